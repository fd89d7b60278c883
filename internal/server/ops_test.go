package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// relay is a real SMTP server on loopback that accepts every message; it
// can be stopped and started again on the same address, as a relay that
// goes down and comes back.
type relay struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *gosmtp.Server
	received []string // recipients
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
	r.addr, r.srv = ln.Addr().String(), srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every open session.
func (r *relay) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
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
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.received = append(s.r.received, s.to)
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
	dir := t.TempDir()
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
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
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
	if _, err := s.App.Store.CreateAccount(context.Background(), store.Account{Login: login, PasswordHash: hash, Created: s.clock.Now()}); err != nil {
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
