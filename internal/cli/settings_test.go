package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs `dcvmail serve` with args as a process of its own (this
// test binary, through TestMain, runs the command line as main does) and
// returns once it serves; it is stopped with SIGTERM when the test ends.
func startServe(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan struct{})
	var log strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `msg="dcvmail serving"`) {
				close(serving)
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	select {
	case <-serving:
	case <-logDone:
		cmd.Wait()
		t.Fatalf("serve %v stopped before serving:\n%s", args, log.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve %v did not start:\n%s", args, log.String())
	}
}

// issue 13 §1: an admin command applies the rules of the server that runs
// on its database. `order add --dcv-email` beside `serve --code-validity
// 72h` sends an email that confirms for 72 hours (before internal/app it
// got the default 29 days, 696 h, whatever the server ran with).
func TestOrderAddAppliesServerSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startServe(t, "--data", dir, "--listen", "127.0.0.1:0", "--dns-resolver", "none", "--code-validity", "72h")
	env := map[string]string{"DCVMAIL_DATA": dir}
	if r := runCLI(t, "pw-of-ann\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatalf("account add: %+v", r)
	}
	r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", "example.com", "--dcv-email", "admin@example.com")
	n, err := strconv.ParseInt(strings.TrimSuffix(r.stdout, "\n"), 10, 64)
	if r.code != 0 || err != nil || r.stderr != "" {
		t.Fatalf("order add: %+v", r)
	}
	var validMS int64
	if err := openStore(t, dir).QueryRow(context.Background(),
		`SELECT expires_ms - created_ms FROM dcv_emails WHERE order_number = $1`, &validMS, n); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(validMS) * time.Millisecond; got != 72*time.Hour {
		t.Fatalf("order add's DCV email is valid %v, want the server's --code-validity 72h", got)
	}
}
