package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
	"github.com/dcvmail/dcvmail/sps"
)

// moduleRoot is the dcvmail module's directory (tests run in their
// package's directory).
var moduleRoot = func() string {
	d, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return d
}()

// dcvmailBin is the binary built once for the package's tests.
var dcvmailBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dcvmail-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dcvmailBin = filepath.Join(dir, "dcvmail")
	build := exec.Command("go", "build", "-o", dcvmailBin, "./cmd/dcvmail")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building dcvmail: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runCLI runs a dcvmail admin command and returns its stdout.
func runCLI(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLIErr(stdin, args...)
	if err != nil {
		t.Fatalf("dcvmail %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func runCLIErr(stdin string, args ...string) (string, error) {
	cmd := exec.Command(dcvmailBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// dcvmail is a running `dcvmail serve` process.
type dcvmail struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string // https://127.0.0.1:port
	Admin  string // 127.0.0.1:port of --admin-listen, when it was given
	Data   string
	log    *syncbuf.Buffer
	done   chan struct{}
	client *http.Client
}

// startDcvmail starts `dcvmail serve` on data with the given extra flags
// and waits until it serves. It is killed when the test ends.
func startDcvmail(t testing.TB, data string, args ...string) *dcvmail {
	t.Helper()
	return startDcvmailIn(t, nil, data, args...)
}

// startDcvmailIn is startDcvmail with the command run through wrap, a
// command that runs its arguments (a shell that sets a limit, say).
func startDcvmailIn(t testing.TB, wrap []string, data string, args ...string) *dcvmail {
	t.Helper()
	full := append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--log-format", "json",
		"--mail-from", "dcv@dcvmail.test"}, args...)
	argv := append(append(append([]string(nil), wrap...), dcvmailBin), full...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DCVMAIL_DNS_RESOLVER=127.0.0.1:9") // never the network
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &dcvmail{t: t, cmd: cmd, Data: data, log: &syncbuf.Buffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.log.Write([]byte(line + "\n"))
			var rec struct {
				Msg   string `json:"msg"`
				HTTPS string `json:"https"`
				Admin string `json:"admin"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "dcvmail serving" {
				urls <- [2]string{rec.HTTPS, strings.TrimPrefix(rec.Admin, "http://")}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("dcvmail log (last 4 KiB):\n%s", tail(d.log.String(), 4096))
		}
	})
	select {
	case u := <-urls:
		d.URL, d.Admin = u[0], u[1]
	case <-d.done:
		t.Fatalf("dcvmail serve exited: %s", d.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("dcvmail serve did not start: %s", d.log.String())
	}
	pem, err := os.ReadFile(filepath.Join(data, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d.client = &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 128},
		Timeout:   30 * time.Second,
	}
	return d
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// kill ends the process with SIGKILL: no shutdown, no flushing.
func (d *dcvmail) kill() {
	d.cmd.Process.Kill()
	<-d.done
}

// resend calls !ResendDCVEmail through the sps client, as an integrator
// would.
func (d *dcvmail) resend(ctx context.Context, login, password string, req sps.ResendDCVEmailRequest) error {
	c := &sps.Client{BaseURL: d.URL, LoginName: login, LoginPassword: password, HTTPClient: d.client}
	_, err := c.ResendDCVEmail(ctx, req)
	return err
}

// seed creates, in the SQLite database of data, an account and n orders
// whose first DCV email is already in the outbox, as `dcvmail account add`
// and `order add --dcv-email` would, but quicker. It returns the orders.
func seed(t testing.TB, data, login, password string, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(ctx, server.AppOptions{
		DatabaseURL: store.SQLiteURL(filepath.Join(data, "dcvmail.db")),
		PublicURL:   "https://localhost:8443",
		MailFrom:    "dcv@dcvmail.test",
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Store.AccountByLogin(ctx, login); errors.Is(err, model.ErrNotFound) {
		hash, err := accounts.HashPassword(password, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Store.Direct().CreateAccount(ctx, model.Account{Login: login, PasswordHash: hash, Created: app.DCV.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	orders := make([]int64, n)
	for i := range orders {
		domain := fmt.Sprintf("d%d-%s.example.com", i, login)
		if orders[i], err = app.DCV.CreateOrder(ctx, dcv.NewOrder{Login: login, Domains: []string{domain}, DCVEmail: "admin@" + domain}); err != nil {
			t.Fatal(err)
		}
	}
	return orders
}

// outboxRow is one delivery as the database has it.
type outboxRow struct {
	ID        int64
	MessageID string
	State     string
	Attempts  int
	Reply     string
}

// readOutbox reads every delivery of the SQLite database in data.
func readOutbox(t testing.TB, data string) []outboxRow {
	t.Helper()
	st, err := store.Open(context.Background(), store.SQLiteURL(filepath.Join(data, "dcvmail.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []outboxRow
	var orders []int64
	if err := collectOrders(st, &orders); err != nil {
		t.Fatal(err)
	}
	for _, n := range orders {
		ds, err := st.DeliveriesOfOrder(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			rows = append(rows, outboxRow{d.ID, d.MessageID, string(d.State), d.Attempts, d.LastReply})
		}
	}
	return rows
}

// collectOrders lists every order number (the store has no such query; the
// tests walk the numbers, which are consecutive from 10000001).
func collectOrders(st *store.Store, out *[]int64) error {
	var lo, hi int64
	if err := st.QueryRow(context.Background(), `SELECT COALESCE(MIN(order_number), 0) FROM orders`, &lo); err != nil {
		return err
	}
	if err := st.QueryRow(context.Background(), `SELECT COALESCE(MAX(order_number), 0) FROM orders`, &hi); err != nil {
		return err
	}
	for n := lo; n <= hi && lo > 0; n++ {
		*out = append(*out, n)
	}
	return nil
}

// ---- Mailpit ----

var (
	mailpitOnce sync.Once
	mailpitPath string
	mailpitErr  error
)

// mailpitBinary returns the Mailpit binary: $DCVMAIL_MAILPIT, or one built
// from the tools module (cached under the user's cache directory, keyed by
// version, so only the first run pays for the build). When there is none the
// test is skipped, or fails with DCVMAIL_REQUIRE_MAILPIT=1.
func mailpitBinary(t testing.TB) string {
	t.Helper()
	mailpitOnce.Do(func() { mailpitPath, mailpitErr = findMailpit() })
	if mailpitErr != nil {
		if os.Getenv("DCVMAIL_REQUIRE_MAILPIT") == "1" {
			t.Fatalf("Mailpit is required (DCVMAIL_REQUIRE_MAILPIT=1) but unavailable: %v", mailpitErr)
		}
		t.Skipf("skipped: Mailpit unavailable (%v); set DCVMAIL_MAILPIT=/path/to/mailpit, or let the test build it from tools/go.mod", mailpitErr)
	}
	return mailpitPath
}

var mailpitVersionRE = regexp.MustCompile(`github\.com/axllent/mailpit (v\S+)`)

func findMailpit() (string, error) {
	if p := os.Getenv("DCVMAIL_MAILPIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("DCVMAIL_MAILPIT: %w", err)
		}
		return p, nil
	}
	tools := filepath.Join(moduleRoot, "tools")
	mod, err := os.ReadFile(filepath.Join(tools, "go.mod"))
	if err != nil {
		return "", err
	}
	m := mailpitVersionRE.FindSubmatch(mod)
	if m == nil {
		return "", errors.New("tools/go.mod does not require github.com/axllent/mailpit")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "dcvmail-test")
	bin := filepath.Join(dir, fmt.Sprintf("mailpit-%s-%s-%s-%s", m[1], runtime.GOOS, runtime.GOARCH, runtime.Version()))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", tmp, "github.com/axllent/mailpit")
	build.Dir = tools
	if out, err := build.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building Mailpit %s: %v: %s", m[1], err, tail(string(out), 2000))
	}
	return bin, os.Rename(tmp, bin)
}

// mailpit is a Mailpit process on loopback ports, with its database in a
// directory of the test so that it keeps its messages across a restart.
type mailpit struct {
	t        testing.TB
	bin      string
	dir      string
	SMTPAddr string // 127.0.0.1:port
	API      string // http://127.0.0.1:port
	extra    []string
	cmd      *exec.Cmd
	done     chan struct{}
	log      *syncbuf.Buffer
}

func startMailpit(t testing.TB, extra ...string) *mailpit {
	t.Helper()
	dir := t.TempDir()
	if d := os.Getenv("DCVMAIL_BENCH_MAILPIT_DIR"); d != "" {
		// Benchmarks may keep Mailpit's database elsewhere (e.g. on tmpfs),
		// so that the sink's own disk flushes do not cap what is measured.
		var err error
		if dir, err = os.MkdirTemp(d, "mailpit-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	m := &mailpit{t: t, bin: mailpitBinary(t), dir: dir, extra: extra}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("Mailpit log (last 2 KiB):\n%s", tail(m.log.String(), 2048))
		}
	})
	// Mailpit cannot bind port 0 and say where it listens, and it must
	// come back on the same ports after a restart: its ports are picked
	// free here, and picked again if another process took one first.
	for attempt := 1; ; attempt++ {
		m.SMTPAddr, m.API, m.log = freePort(t), "http://"+freePort(t), &syncbuf.Buffer{}
		err := m.tryStart()
		if err == nil {
			return m
		}
		if attempt == 3 || !strings.Contains(m.log.String(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// start starts Mailpit again on its ports and waits until its API answers.
func (m *mailpit) start() {
	m.t.Helper()
	if err := m.tryStart(); err != nil {
		m.t.Fatal(err)
	}
}

func (m *mailpit) tryStart() error {
	args := append([]string{
		"--smtp", m.SMTPAddr,
		"--listen", strings.TrimPrefix(m.API, "http://"),
		"--database", filepath.Join(m.dir, "mailpit.db"),
		"--disable-version-check", // no internet
		"--smtp-disable-rdns",     // no DNS
		"--max", "0",              // keep every message
		"--quiet",
	}, m.extra...)
	m.cmd = exec.Command(m.bin, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	m.done = done
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(m.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if c, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-done:
			m.cmd = nil
			return fmt.Errorf("Mailpit exited: %s", m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Mailpit did not start: %s", m.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops Mailpit (SIGTERM) and waits for it.
func (m *mailpit) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// mpSummary is a message in Mailpit's list.
type mpSummary struct {
	ID        string
	MessageID string
	Subject   string
	Created   time.Time
	To        []struct{ Address string }
}

func (m *mailpit) getJSON(path string, v any) error {
	resp, err := http.Get(m.API + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// messages lists every message Mailpit holds, newest first.
func (m *mailpit) messages(t testing.TB) []mpSummary {
	t.Helper()
	var page struct {
		Total    int
		Messages []mpSummary
	}
	if err := m.getJSON("/api/v1/messages?limit=1000000", &page); err != nil {
		t.Fatal(err)
	}
	return page.Messages
}

// total is how many messages Mailpit holds.
func (m *mailpit) total() (int, error) {
	var page struct{ Total int }
	err := m.getJSON("/api/v1/messages?limit=1", &page)
	return page.Total, err
}

// waitTotal waits until Mailpit holds at least n messages.
func (m *mailpit) waitTotal(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := m.total()
		if err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mailpit holds %d messages after %v, want %d (%v)", got, within, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
