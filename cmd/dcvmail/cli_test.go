package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
)

// startServe starts `dcvmail serve` without waiting for it; ready waits
// until /healthz answers and returns the API's base URL. serve binds port 0
// and names its addresses in its log: a port picked free beforehand may be
// taken by another test's process before serve binds it.
func startServe(t *testing.T, bin, data string, args ...string) (proc *serveProc, ready func() (string, error), logs *syncbuf.Buffer) {
	t.Helper()
	// Never the system's resolver: tests talk only to loopback.
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--dns-resolver", "none"}, args...)...)
	cmd.Env = append(os.Environ(), "DCVMAIL_DATA="+data)
	logs = &syncbuf.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	proc = &serveProc{Cmd: cmd, exited: exited}
	t.Cleanup(func() {
		cmd.Process.Kill()
		proc.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	return proc, func() (string, error) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			select {
			case err := <-exited:
				exited <- err
				return "", fmt.Errorf("serve exited: %v\n%s", err, logs.String())
			default:
			}
			var err error
			if base, admin, ok := servingURLs(logs.String()); ok {
				var resp *http.Response
				if resp, err = http.Get(admin + "/healthz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return base, nil
					}
				}
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("serve did not become ready: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}, logs
}

// serveProc is a started serve; its Wait may be called any number of times.
type serveProc struct {
	*exec.Cmd
	exited chan error
}

func (p *serveProc) Wait() error {
	err := <-p.exited
	p.exited <- err
	return err
}

// servingRE finds the API's and the admin listener's URLs in serve's
// "dcvmail serving" log line, in the text or the JSON format.
var servingRE = regexp.MustCompile(`"?https"?[=:]"?(https://[^"\s]+)"?.*"?admin"?[=:]"?(http://[^"\s]+)`)

func servingURLs(log string) (base, admin string, ok bool) {
	for line := range strings.Lines(log) {
		if strings.Contains(line, "dcvmail serving") {
			if m := servingRE.FindStringSubmatch(line); m != nil {
				return m[1], m[2], true
			}
		}
	}
	return "", "", false
}

// issue 13: two `serve --demo` nodes started at the same moment on one
// PostgreSQL database both start (one used to exit with a duplicate key of
// orders_pkey), and the demo data exists once: one account, one order, one
// first DCV email.
func TestTwoDemoNodesStartTogether(t *testing.T) {
	bin := binary(t)
	for round := range 5 {
		db := pgtest.URL(t)
		// Migrated first: otherwise the migration lock staggers the nodes,
		// and the race of the seeding is seldom seen.
		run(t, bin, t.TempDir(), "", "migrate", "--db", db)
		var readies []func() error
		// One message key for both, as every node of a cluster must have
		// (docs/operations.md); made by whichever node starts first.
		key := filepath.Join(t.TempDir(), "message.key")
		for range 2 {
			// Each node its own --data: they would otherwise race to write
			// one self-signed certificate, which is not what this tests.
			_, ready, _ := startServe(t, bin, t.TempDir(), "--db", db, "--demo", "--message-key-file", key)
			readies = append(readies, func() error { _, err := ready(); return err })
		}
		var wg sync.WaitGroup
		errs := make([]error, len(readies))
		for i, ready := range readies {
			wg.Go(func() { errs[i] = ready() })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, node %d: %v", round+1, i+1, err)
			}
		}
		st := openStore(t, db)
		var accounts, orders, emails int
		q := func(sql string, dst *int) {
			if err := st.QueryRow(t.Context(), sql, dst); err != nil {
				t.Fatal(err)
			}
		}
		q(`SELECT COUNT(*) FROM accounts WHERE login = 'login_name'`, &accounts)
		q(`SELECT COUNT(*) FROM orders WHERE order_number = 1234567`, &orders)
		q(`SELECT COUNT(*) FROM outbox`, &emails)
		if accounts != 1 || orders != 1 || emails != 1 {
			t.Fatalf("round %d: %d demo accounts, %d demo orders, %d emails; want 1 each", round+1, accounts, orders, emails)
		}
	}
}

// issue 13: `dcvmail version` shows the version set at build time.
func TestVersionStamped(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dcvmail")
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/dcvmail/dcvmail/internal/cli.version=v9.8.7-test", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := run(t, bin, t.TempDir(), "", "version")
	if !strings.HasPrefix(out, "dcvmail v9.8.7-test") || strings.Count(out, "\n") != 1 {
		t.Fatalf("version: %q", out)
	}
}

// issue 13: the real binary's exit statuses: 2 for a usage error, 1 for a
// failure; and mail list --json keeps the fields other tools parse.
func TestExitStatusAndMailJSON(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	status := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DCVMAIL_DATA="+data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		}
		return 0, stderr.String()
	}
	if code, stderr := status("serve", "--lsten", "127.0.0.1:0"); code != 2 || stderr != "dcvmail serve: unknown flag --lsten (did you mean --listen?)\n" {
		t.Fatalf("typo: %d %q", code, stderr)
	}
	if code, stderr := status("order", "show", "42", "--json"); code != 1 || !strings.Contains(stderr, "holds no database") {
		t.Fatalf("empty data: %d %q", code, stderr)
	}
	run(t, bin, data, "pw-json\n", "account", "add", "--login", "jo", "--password-stdin")
	order := strings.TrimSpace(run(t, bin, data, "", "order", "add", "--account", "jo", "--domain", "example.com", "--dcv-email", "admin@example.com"))
	serveProcess(t, bin, data)
	var msgs []map[string]any
	waitFor(t, func() bool {
		json.Unmarshal([]byte(run(t, bin, data, "", "mail", "list", "--json", "--order", order, "--to", "admin@example.com")), &msgs)
		return len(msgs) == 1
	})
	for _, k := range []string{"to", "subject", "text", "orderNumber", "dcvCode"} {
		if v, ok := msgs[0][k]; !ok || v == "" {
			t.Errorf("mail list --json lacks %q: %v", k, msgs[0])
		}
	}
	if code, _ := status("order", "show", "999999"); code != 1 {
		t.Fatalf("missing order: %d", code)
	}
}
