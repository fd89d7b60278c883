// Package dcvtest starts a real dcvmail server for tests: real TLS
// listener, real SQLite file in a temporary directory (or a PostgreSQL
// database), the built-in mailbox, and a fake clock that tests move instead
// of sleeping.
package dcvtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// EnvBackend selects the database of servers started without Options.DB:
// "postgres" runs the same tests on PostgreSQL.
const EnvBackend = "DCVMAIL_TEST_BACKEND"

// Epoch is where the fake clock starts.
var Epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// Options adjust the server a test starts.
type Options struct {
	Demo           bool
	TestControls   bool     // serve the test controls (docs/control.md)
	AdminToken     string   // the admin listener's bearer token ("": none)
	SMTP           string   // deliver over SMTP to this URL instead of the built-in mailbox
	HTTPListen     bool     // open a plain-HTTP listener too
	AdminListen    bool     // open the admin listener
	Resolvers      []string // DNS resolvers (loopback test servers only); none: no DNS at all
	DNSQuorum      int
	DNSRequireAD   string // "" is "auto": required at the fake clock's date
	TrustedProxies []string
	// DB is the database URL; "" means a SQLite file in the test's
	// directory, or a fresh PostgreSQL database when DCVMAIL_TEST_BACKEND
	// is "postgres" (the package's TestMain must then call pgtest.Main).
	DB          string
	ResendBurst int // 0 for the default
	// WriteBacklogLimit, when not 0, is serve's --write-backlog-limit
	// (negative: never refuse).
	WriteBacklogLimit time.Duration
	Log               io.Writer
}

// Env is a running server and what a test needs to drive it.
type Env struct {
	T      testing.TB
	Server *server.Server
	Store  *store.Store
	DCV    *dcv.Service
	Clock  *clock.Fake
	Client *http.Client // trusts the server's self-signed certificate
	Dir    string
	DB     string // the database URL given ("" for the SQLite file in Dir)
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	return StartIn(t, t.TempDir(), o)
}

// StartIn starts a server on an existing --data directory.
func StartIn(t testing.TB, dir string, o Options) *Env {
	t.Helper()
	if o.DB == "" && os.Getenv(EnvBackend) == "postgres" {
		o.DB = pgtest.URL(t)
	}
	// serve's defaults, as the flags give them, then what tests need.
	cfg := config.DefaultServe()
	cfg.Common = config.Common{Data: dir, DB: o.DB}
	cfg.Listen = "127.0.0.1:0"
	cfg.MailFrom = "dcv@dcvmail.test"
	cfg.DNSResolvers = config.List{"none"} // never the system's: tests talk only to loopback
	cfg.DNSQuorum, cfg.DNSRequireAD, cfg.DNSTimeout = o.DNSQuorum, o.DNSRequireAD, 2*time.Second
	cfg.TrustedProxies = o.TrustedProxies
	cfg.Demo = o.Demo
	cfg.TestControls = o.TestControls
	cfg.Guard.AdminToken = o.AdminToken
	cfg.SMTP = o.SMTP
	if o.ResendBurst > 0 {
		cfg.ResendBurst = o.ResendBurst
	}
	if o.WriteBacklogLimit != 0 {
		cfg.Limits.WriteBacklogLimit = o.WriteBacklogLimit
	}
	if o.HTTPListen {
		cfg.HTTPListen = "127.0.0.1:0"
	}
	if len(o.Resolvers) > 0 {
		cfg.DNSResolvers = o.Resolvers
	}
	if o.AdminListen {
		cfg.AdminListen = "127.0.0.1:0"
	}
	logOut := o.Log
	if logOut == nil {
		logOut = io.Discard
		if testing.Verbose() {
			logOut = os.Stderr
		}
	}
	fake := clock.NewFake(Epoch)
	srv, err := server.New(context.Background(), cfg, server.WithClock(fake),
		server.WithLogger(slog.New(slog.NewTextHandler(logOut, nil))))
	if err != nil {
		t.Fatalf("start server: %v", err)
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
	pem, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &Env{
		T:      t,
		Server: srv,
		Store:  srv.App.Store,
		DCV:    srv.App.DCV,
		Clock:  fake,
		Client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		Dir:    dir,
		DB:     o.DB,
	}
}

// Do sends a request and returns the status and body.
func (e *Env) Do(method, rawURL, contentType, body string) (int, http.Header, string) {
	e.T.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// Post sends a form to an API path over HTTPS and returns the body; every
// API answer must be HTTP 200.
func (e *Env) Post(path string, form url.Values) string {
	e.T.Helper()
	return e.PostRaw(path, form.Encode())
}

// PostRaw sends a raw form body to an API path.
func (e *Env) PostRaw(path, body string) string {
	e.T.Helper()
	status, _, b := e.Do(http.MethodPost, e.Server.URL()+path, "application/x-www-form-urlencoded", body)
	if status != http.StatusOK {
		e.T.Fatalf("POST %s: HTTP %d, want 200: %s", path, status, b)
	}
	return b
}

// AddAccount creates an account.
func (e *Env) AddAccount(login, password string, readOnly bool) model.Account {
	e.T.Helper()
	ctx := context.Background()
	if err := accounts.Create(ctx, e.Store, accounts.NewAccount{Login: login, Password: password, ReadOnly: readOnly}, e.Clock.Now()); err != nil {
		e.T.Fatal(err)
	}
	a, err := e.Store.AccountByLogin(ctx, login)
	if err != nil {
		e.T.Fatal(err)
	}
	return a
}

// AddOrder creates an order as the operator does; with dcvEmail its first
// DCV email is sent.
func (e *Env) AddOrder(login string, domains []string, baseOrder int64, dcvEmail string) int64 {
	e.T.Helper()
	n, err := e.DCV.CreateOrder(context.Background(), dcv.NewOrder{Login: login, Domains: domains, BaseOrder: baseOrder, DCVEmail: dcvEmail})
	if err != nil {
		e.T.Fatalf("create order: %v", err)
	}
	return n
}

// Mailbox waits until the outbox has nothing due and returns the captured
// messages (of one order, or all with 0), oldest first.
func (e *Env) Mailbox(order int64) []model.CapturedMail {
	e.T.Helper()
	e.Drain()
	m, err := e.Store.Mailbox(context.Background(), order)
	if err != nil {
		e.T.Fatal(err)
	}
	return m
}

// Drain waits (at most 10 s) until no delivery is pending.
func (e *Env) Drain() {
	e.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := e.Store.PendingDeliveries(context.Background())
		if err != nil {
			e.T.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("outbox still has %d pending deliveries after 10s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Counts are the numbers of stored rows a rejected request must not change.
type Counts struct {
	Emails, Deliveries, Offers, Mailbox int
	OrderState                          string
}

// Count reads the Counts once the outbox is drained; order, when not 0,
// adds that order's state.
func (e *Env) Count(order int64) Counts {
	e.T.Helper()
	e.Drain()
	var c Counts
	q := func(sql string, dst *int) {
		if err := e.Store.QueryRow(context.Background(), sql, dst); err != nil {
			e.T.Fatal(err)
		}
	}
	q(`SELECT COUNT(*) FROM dcv_emails`, &c.Emails)
	q(`SELECT COUNT(*) FROM outbox`, &c.Deliveries)
	q(`SELECT COUNT(*) FROM address_offers`, &c.Offers)
	q(`SELECT COUNT(*) FROM mailbox`, &c.Mailbox)
	if order != 0 {
		o, err := e.Store.OrderByNumber(context.Background(), order)
		if err != nil {
			e.T.Fatal(err)
		}
		ds, err := e.Store.Domains(context.Background(), order)
		if err != nil {
			e.T.Fatal(err)
		}
		c.OrderState = o.ResendTAT.String()
		for _, d := range ds {
			c.OrderState += "|" + d.Recipient + "|" + string(d.Source) + "|" + d.Validated.String()
		}
	}
	return c
}

// HoldWrites makes the server's writes wait: it holds SQLite's writer, or
// every connection of PostgreSQL's pool, with transactions that wait, and
// queues one more write behind them. It returns once that write has waited
// longer than backlog (store.WriteBacklog); release lets everything commit
// and waits for it (the test's end releases them too). The held
// transactions write nothing.
func (e *Env) HoldWrites(backlog time.Duration) (release func()) {
	e.T.Helper()
	held := 1 // SQLite: the one writer
	if e.Store.Dialect() == "postgres" {
		held = e.Store.DB().Stats().MaxOpenConnections
	}
	ctx := context.Background()
	started, unblock := make(chan struct{}, held), make(chan struct{})
	errs := make(chan error, held+1)
	for range held {
		go func() {
			errs <- e.Store.Tx(ctx, func(model.Tx) error {
				started <- struct{}{}
				<-unblock
				return nil
			})
		}()
	}
	for range held {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			e.T.Fatalf("HoldWrites: the held transactions did not start")
		}
	}
	go func() { errs <- e.Store.Tx(ctx, func(model.Tx) error { return nil }) }()
	for deadline := time.Now().Add(10 * time.Second); e.Store.WriteBacklog() <= backlog; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(unblock)
			e.T.Fatalf("HoldWrites: the queued write's backlog stayed at %v, want over %v", e.Store.WriteBacklog(), backlog)
		}
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			for range held + 1 {
				if err := <-errs; err != nil {
					e.T.Errorf("HoldWrites: %v", err)
				}
			}
		})
	}
	e.T.Cleanup(release)
	return release
}
