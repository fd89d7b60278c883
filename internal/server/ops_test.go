package server_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/health"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
)

// relay is a real SMTP server on loopback that accepts every message; it
// can be stopped and started again on the same address, as a relay that
// goes down and comes back.
type relay struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *gosmtp.Server
	ln       net.Listener
	received []string // recipients
	data     []string // the messages, as received
}

func startRelay(t testing.TB) *relay {
	r := &relay{t: t, addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *relay) start() {
	r.t.Helper()
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &relaySession{r: r}, nil }))
	srv.Domain = "relay.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var ln net.Listener
	var err error
	for range 50 { // the port was just closed; it may take a moment to be free again
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.addr, r.srv, r.ln = ln.Addr().String(), srv, ln
	r.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every open session.
func (r *relay) stop() {
	r.mu.Lock()
	srv, ln := r.srv, r.ln
	r.srv, r.ln = nil, nil
	r.mu.Unlock()
	if srv != nil {
		// The listener too: a Close that comes before Serve has taken the
		// listener would leave it open.
		ln.Close()
		srv.Close()
	}
}

func (r *relay) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

type relaySession struct {
	r  *relay
	to string
}

func (s *relaySession) Reset()                                      {}
func (s *relaySession) Logout() error                               { return nil }
func (s *relaySession) Mail(string, *gosmtp.MailOptions) error      { return nil }
func (s *relaySession) Rcpt(to string, _ *gosmtp.RcptOptions) error { s.to = to; return nil }
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.received = append(s.r.received, s.to)
	s.r.data = append(s.r.data, string(b))
	s.r.mu.Unlock()
	return nil
}

// opsServer is a server started for the operations tests, with its admin
// listener and a fake clock.
type opsServer struct {
	*server.Server
	clock *clock.Fake
	dir   string
}

// startOps starts a server on a fresh --data (SQLite, or PostgreSQL with
// DCVMAIL_TEST_BACKEND=postgres); adjust changes the configuration first.
func startOps(t *testing.T, adjust func(*config.Serve)) *opsServer {
	t.Helper()
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	return startOpsIn(t, t.TempDir(), logOut, adjust)
}

// startOpsLog is startOps with the log written to logOut.
func startOpsLog(t *testing.T, logOut io.Writer, adjust func(*config.Serve)) *opsServer {
	t.Helper()
	return startOpsIn(t, t.TempDir(), logOut, adjust)
}

// startOpsIn starts a server on dir.
func startOpsIn(t *testing.T, dir string, logOut io.Writer, adjust func(*config.Serve)) *opsServer {
	t.Helper()
	cfg := config.Serve{
		Common:         config.Common{Data: dir},
		Listen:         "127.0.0.1:0",
		AdminListen:    "127.0.0.1:0",
		MailFrom:       "dcv@dcvmail.test",
		DNSResolvers:   config.List{"none"},
		CodeValidity:   dcv.DefaultPolicy.CodeValidity,
		ResendBurst:    100,
		ResendInterval: time.Second,
	}
	if os.Getenv(dcvtest.EnvBackend) == "postgres" {
		cfg.DB = pgtest.URL(t)
	}
	if adjust != nil {
		adjust(&cfg)
	}
	fake := clock.NewFake(dcvtest.Epoch)
	srv, err := server.New(context.Background(), cfg, server.WithClock(fake), server.WithLogger(slog.New(slog.NewTextHandler(logOut, nil))))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &opsServer{Server: srv, clock: fake, dir: dir}
}

func (s *opsServer) addAccount(t *testing.T, login, password string) {
	t.Helper()
	hash, err := accounts.HashPassword(password, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Store.Direct().CreateAccount(context.Background(), model.Account{Login: login, PasswordHash: hash, Created: s.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

// sendOne queues one DCV email (a new order with a first email).
func (s *opsServer) sendOne(t *testing.T, login string) int64 {
	t.Helper()
	n, err := s.App.DCV.CreateOrder(context.Background(), dcv.NewOrder{Login: login, Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readyz asks /readyz.
func (s *opsServer) readyz(t *testing.T) (int, health.Report) {
	t.Helper()
	resp, err := http.Get(s.AdminURL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep health.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	if (resp.StatusCode == 200) != rep.Ready || resp.StatusCode != 200 && resp.StatusCode != 503 {
		t.Fatalf("/readyz: HTTP %d with ready=%v", resp.StatusCode, rep.Ready)
	}
	for _, c := range []string{"database", "outbox", "smtp"} {
		if _, ok := rep.Checks[c]; !ok {
			t.Fatalf("/readyz lacks the %s check: %+v", c, rep)
		}
	}
	return resp.StatusCode, rep
}

// waitReady polls /readyz (at most 20 s) until cond holds.
func (s *opsServer) waitReady(t *testing.T, what string, cond func(int, health.Report) bool) health.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, rep := s.readyz(t)
		if cond(code, rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: /readyz still answers %d %+v", what, code, rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// issue 17: with the relay down, /readyz turns 503 and says why (smtp at
// once, then the outbox when the oldest message is too old); with the
// relay back and the backlog drained it turns 200 again. The fake clock
// stands for the hours of a real outage.
func TestReadyzFollowsTheRelay(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	s := startOps(t, func(c *config.Serve) {
		c.SMTP = "smtp://" + r.addr + "?tls=none"
		c.Mail = config.Mail{SMTPConnections: 2, SMTPTimeout: 2 * time.Second, MaxAge: 48 * time.Hour,
			RetryBase: time.Second, RetryMax: time.Minute, Lease: 2 * time.Minute}
		c.Ops = config.Ops{ReadyMaxOutboxAge: 10 * time.Minute, ReadySMTPWindow: 5 * time.Minute}
	})
	s.addAccount(t, "reseller", "a long password")

	code, rep := s.readyz(t)
	if code != 200 {
		t.Fatalf("fresh server not ready: %+v", rep)
	}
	s.sendOne(t, "reseller")
	s.waitReady(t, "the first message sent", func(code int, rep health.Report) bool {
		return code == 200 && r.count() == 1 && strings.Contains(rep.Checks["smtp"].Detail, "last sent")
	})

	// The relay goes away; later a message is queued.
	r.stop()
	s.clock.Advance(6 * time.Minute) // the last success is now outside the window
	s.sendOne(t, "reseller")
	rep = s.waitReady(t, "503 with the smtp check failing", func(code int, rep health.Report) bool {
		return code == 503 && !rep.Checks["smtp"].OK
	})
	if !rep.Checks["database"].OK || !rep.Checks["outbox"].OK {
		t.Errorf("only smtp should fail yet: %+v", rep)
	}
	if !strings.Contains(rep.Checks["smtp"].Detail, "--ready-smtp-window") {
		t.Errorf("the smtp check does not say why: %q", rep.Checks["smtp"].Detail)
	}

	// Eleven minutes on, still down: the message is older than the limit.
	s.clock.Advance(11 * time.Minute)
	rep = s.waitReady(t, "the outbox check failing too", func(code int, rep health.Report) bool {
		return code == 503 && !rep.Checks["outbox"].OK && !rep.Checks["smtp"].OK
	})
	if !strings.Contains(rep.Checks["outbox"].Detail, "--ready-max-outbox-age") {
		t.Errorf("the outbox check does not say why: %q", rep.Checks["outbox"].Detail)
	}

	// The relay returns; the next retry (at most RetryMax later) drains
	// the backlog.
	r.start()
	s.clock.Advance(2 * time.Minute)
	s.waitReady(t, "200 after the relay returned", func(code int, rep health.Report) bool { return code == 200 })
	if r.count() != 2 {
		t.Errorf("relay received %d messages, want 2", r.count())
	}
	if n, _ := s.App.Store.PendingDeliveries(context.Background()); n != 0 {
		t.Errorf("%d deliveries still pending while ready", n)
	}
}

// issue 17: /readyz says 503 when the database does not answer; /healthz
// keeps answering: the process is alive.
func TestReadyzDatabaseDown(t *testing.T) {
	t.Parallel()
	if os.Getenv(dcvtest.EnvBackend) == "postgres" {
		t.Skip("closing the pool stands for a lost database on either back end; SQLite's run covers it")
	}
	s := startOps(t, nil)
	if code, rep := s.readyz(t); code != 200 {
		t.Fatalf("not ready at start: %+v", rep)
	}
	s.App.Store.DB().Close()
	code, rep := s.readyz(t)
	if code != 503 || rep.Checks["database"].OK || rep.Checks["outbox"].OK {
		t.Fatalf("with the database closed: %d %+v", code, rep)
	}
	resp, err := http.Get(s.AdminURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/healthz with the database closed: %d %q, want 200 ok (liveness, not readiness)", resp.StatusCode, body)
	}
}

// issue 17, the operator's report: with the relay down, messages were
// given up at WARN, the pending count went back to 0 and nothing said
// anything was wrong. Now the give-up is an ERROR, counted as failed, and
// /readyz stays 503 on the smtp check although the outbox is empty.
func TestGivenUpDeliveryIsAnError(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	r.stop()
	logs := &syncbuf.Buffer{}
	s := startOpsLog(t, logs, func(c *config.Serve) {
		c.SMTP = "smtp://" + r.addr + "?tls=none"
		c.Mail = config.Mail{SMTPConnections: 1, SMTPTimeout: 2 * time.Second, MaxAge: time.Hour,
			RetryBase: time.Minute, RetryMax: time.Hour, Lease: 2 * time.Minute}
	})
	s.addAccount(t, "reseller", "a long password")
	s.sendOne(t, "reseller")
	s.waitReady(t, "the first failure", func(code int, rep health.Report) bool { return !rep.Checks["smtp"].OK })
	s.clock.Advance(time.Hour)
	// The worker hears of the give-up just after it is recorded: wait for
	// the outbox to be empty and for /readyz to say 503 on smtp; waitReady
	// fails the test if it never does.
	rep := s.waitReady(t, "the delivery given up, and 503 on smtp with an empty outbox", func(code int, rep health.Report) bool {
		n, _ := s.App.Store.PendingDeliveries(t.Context())
		return n == 0 && rep.Checks["outbox"].OK && !rep.Checks["smtp"].OK && code == http.StatusServiceUnavailable
	})
	if rep.Ready {
		t.Errorf("after the give-up: %+v; want not ready", rep)
	}
	if !regexp.MustCompile(`level=ERROR msg="outbox: delivery given up: too old to retry" delivery=\d+ order=\d+ reply=`).MatchString(logs.String()) {
		t.Errorf("no ERROR line for the given-up delivery:\n%s", logs.String())
	}
	fams := scrape(t, s)
	if v, _ := value(fams, "dcvmail_outbox_deliveries_total", "outcome=failed"); v != 1 {
		t.Errorf("dcvmail_outbox_deliveries_total{outcome=failed} = %v, want 1", v)
	}
	if v, _ := value(fams, "dcvmail_ready", ""); v != 0 {
		t.Errorf("dcvmail_ready = %v, want 0", v)
	}
}

// issue 17: --tls-hosts adds names and addresses to the generated
// certificate; a certificate made without them is made again.
func TestTLSHosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func(hosts ...string) *x509.Certificate {
		t.Helper()
		s := startOpsIn(t, dir, io.Discard, func(c *config.Serve) { c.Ops.TLSHosts = hosts })
		conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL(), "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		cert := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx) // the next start reads the same --data
		return cert
	}
	plain := start()
	if plain.VerifyHostname("dcv.example.net") == nil {
		t.Fatal("the default certificate covers dcv.example.net")
	}
	c := start("dcv.example.net,10.1.2.3", "2001:db8::7", "*.dcv.example.org")
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "dcv.example.net", "10.1.2.3", "2001:db8::7", "x.dcv.example.org"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("with --tls-hosts: %v", err)
		}
	}
	if again := start("dcv.example.net", "10.1.2.3"); !again.Equal(c) {
		t.Error("a certificate that covers the hosts was made again")
	}
	// --tls-hosts with --tls-cert is a mistake, said so at start.
	_, err := server.New(context.Background(), config.Serve{Common: config.Common{Data: t.TempDir()}, Listen: "127.0.0.1:0",
		TLSCert: filepath.Join(dir, "tls-cert.pem"), TLSKey: filepath.Join(dir, "tls-key.pem"), Ops: config.Ops{TLSHosts: config.List{"x.example"}}})
	if err == nil || !strings.Contains(err.Error(), "--tls-hosts") {
		t.Errorf("--tls-hosts with --tls-cert: %v", err)
	}
}
