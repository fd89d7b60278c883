package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Start is how fast `dcvmail serve` answers on an existing database, and
// what it holds in memory when idle, measured on a child process of this
// very binary.
type Start struct {
	Orders int `json:"orders"` // in the database it started on
	// ReadyMS are the times from exec to the first HTTPS answer, one per
	// start; MedianMS and MaxMS summarize them.
	ReadyMS  []float64 `json:"readyMs"`
	MedianMS float64   `json:"medianMs"`
	MaxMS    float64   `json:"maxMs"`
	// IdleRSSMB is VmRSS after start and a pause; AfterLoadRSSMB after
	// Requests ResendDCVEmail calls (one argon2id verification among them,
	// then cache hits) and the same pause; PeakRSSMB is the child's VmHWM.
	IdleRSSMB      float64 `json:"idleRssMB"`
	AfterLoadRSSMB float64 `json:"afterLoadRssMB"`
	PeakRSSMB      float64 `json:"peakRssMB"`
	Requests       int     `json:"requests"`
}

// serveArgs are the flags a child `serve` runs with.
type serveArgs struct {
	data, db string
}

// measureStart starts `serve` starts times on the database and measures
// each; on the last start it also reads the child's memory. body is a
// ResendDCVEmail form that succeeds on that database.
func measureStart(ctx context.Context, exe string, sa serveArgs, hc *http.Client, starts int, body string, requests int, settle time.Duration) (Start, error) {
	var st Start
	for i := range starts {
		last := i == starts-1
		start := func() error {
			port, err := freePort()
			if err != nil {
				return err
			}
			base := "https://127.0.0.1:" + port
			args := []string{"serve", "--data", sa.data, "--listen", "127.0.0.1:" + port, "--dns-resolver", "127.0.0.1:9",
				"--smtp", "", "--log-format", "json", "--resend-burst", "1000000", "--resend-interval", "1ms", "--request-rate", "-1"}
			if sa.db != "" {
				args = append(args, "--db", sa.db)
			}
			logf, err := os.OpenFile(filepath.Join(sa.data, "serve-child.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer logf.Close()
			logStart, _ := logf.Seek(0, io.SeekEnd)
			cmd := exec.CommandContext(ctx, exe, args...)
			cmd.Env = childEnv()
			cmd.Stdout, cmd.Stderr = logf, logf
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				return err
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(20 * time.Second):
					cmd.Process.Kill()
					<-exited
				}
			}()
			if err := waitReady(hc, base, exited, 30*time.Second); err != nil {
				if portTaken(logf.Name(), logStart) {
					return errPortTaken
				}
				return fmt.Errorf("serve child: %w (see serve-child.log in %s)", err, sa.data)
			}
			st.ReadyMS = append(st.ReadyMS, ms(time.Since(t0)))
			if !last {
				return nil
			}
			pid := cmd.Process.Pid
			time.Sleep(settle)
			st.IdleRSSMB = procStatusMB(pid, "VmRSS")
			for range requests {
				if err := post(hc, base+resendPath, body); err != nil {
					return fmt.Errorf("serve child: resend: %w", err)
				}
			}
			st.Requests = requests
			time.Sleep(settle)
			st.AfterLoadRSSMB = procStatusMB(pid, "VmRSS")
			st.PeakRSSMB = procStatusMB(pid, "VmHWM")
			return nil
		}
		// The port was free a moment before the child bound it; another
		// process may have taken it in between.
		err := start()
		for attempt := 2; err == errPortTaken && attempt <= 3; attempt++ {
			err = start()
		}
		if err != nil {
			return st, err
		}
	}
	sorted := slices.Clone(st.ReadyMS)
	slices.Sort(sorted)
	st.MedianMS, st.MaxMS = sorted[len(sorted)/2], sorted[len(sorted)-1]
	return st, nil
}

// waitReady polls until the API answers (any errorCode: the answer proves
// the listener, TLS and the handler are up, after the database was opened
// and migrated).
func waitReady(hc *http.Client, base string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before it was ready: %v", err)
		default:
		}
		req, _ := http.NewRequest(http.MethodPost, base+resendPath, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not ready after %v", limit)
}

func post(hc *http.Client, url, body string) error {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header = formHeader.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b[:n]), "errorCode=0") {
		return fmt.Errorf("HTTP %d: %q", resp.StatusCode, b[:n])
	}
	return nil
}

// childEnv is this process's environment without DCVMAIL_* variables, so
// that only the flags given configure the child.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DCVMAIL_") {
			env = append(env, kv)
		}
	}
	return env
}

var errPortTaken = errors.New("serve child: its port was taken before it could listen")

// portTaken tells whether the child's log, from offset on, says its port
// was in use.
func portTaken(log string, offset int64) bool {
	b, err := os.ReadFile(log)
	return err == nil && int64(len(b)) >= offset && bytes.Contains(b[offset:], []byte("address already in use"))
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// procStatusMB reads a kB field of /proc/PID/status (pid 0: this process)
// in MB; 0 where there is no /proc.
func procStatusMB(pid int, field string) float64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0
		}
		return round(kb/1024, 1)
	}
	return 0
}
