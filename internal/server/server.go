// Package server assembles dcvmail from its parts: it opens the store, builds
// the DCV service, the API and the outbox worker, and runs the listeners
// (HTTPS, optional plain HTTP, optional admin) until told to stop.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/mailbox"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/internal/web"
)

// Settings that `serve` records so that admin commands run beside it render
// emails as it does.
const (
	settingPublicURL = "public_url"
	settingMailFrom  = "mail_from"
)

// App is the opened state shared by `serve` and the admin commands.
type App struct {
	Store *store.Store
	DCV   *dcv.Service
	Log   *slog.Logger
	// Enqueued is called after a commit that put mail in the outbox.
	wake func()
}

// AppOptions configure Open.
type AppOptions struct {
	DatabaseURL string
	Clock       clock.Clock
	Random      io.Reader
	Policy      dcv.Policy
	Finder      dcv.AddressFinder
	PublicURL   string // "" reads the one the server recorded
	MailFrom    string // "" reads the one the server recorded
	Log         *slog.Logger
}

// Open opens and migrates the database and builds the DCV service.
func Open(ctx context.Context, o AppOptions) (*App, error) {
	st, err := store.Open(ctx, o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	app := &App{Store: st, Log: o.Log, wake: func() {}}
	if app.Log == nil {
		app.Log = slog.Default()
	}
	if o.PublicURL == "" {
		o.PublicURL, _ = st.Setting(ctx, settingPublicURL)
		if o.PublicURL == "" {
			o.PublicURL = "https://localhost:8443"
		}
	}
	if o.MailFrom == "" {
		o.MailFrom, _ = st.Setting(ctx, settingMailFrom)
		if o.MailFrom == "" {
			o.MailFrom = "dcvmail@localhost"
		}
	}
	if o.Finder == nil {
		o.Finder = contacts.NewFinder(contacts.Config{})
	}
	app.DCV, err = dcv.New(ctx, dcv.Config{
		Store:     st,
		Clock:     o.Clock,
		Random:    o.Random,
		Policy:    o.Policy,
		Finder:    o.Finder,
		PublicURL: o.PublicURL,
		MailFrom:  o.MailFrom,
		Enqueued:  func() { app.wake() },
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return app, nil
}

// Close closes the database.
func (a *App) Close() error { return a.Store.Close() }

// Server is a running dcvmail.
type Server struct {
	App    *App
	cfg    config.Serve
	clock  clock.Clock
	worker *mail.Worker

	https, plain, admin       *http.Server
	httpsLn, plainLn, adminLn net.Listener

	// The worker runs from Serve until Shutdown; mu orders the two, which
	// may be called from different goroutines.
	mu            sync.Mutex
	workerStarted bool
	stopped       bool
	stopWorker    context.CancelFunc
	workerDone    chan struct{}
	closeOnce     sync.Once

	closeSender io.Closer // the SMTP sender's connections, closed after the worker stops

	timeline  []dcv.Rule
	requireAD bool
	resolvers []string

	certs *certHolder // the HTTPS certificate, reloaded on SIGHUP (tlsreload.go)
	ops   *operations // metrics and readiness (operations.go)
}

// Option adjusts a Server for tests.
type Option func(*serverOptions)

type serverOptions struct {
	clock  clock.Clock
	random io.Reader
	log    *slog.Logger
	routes map[string]http.Handler
	// readHeaderTimeout and readTimeout, when set, replace the listeners'
	// (withReadTimeouts, for tests of slow clients).
	readHeaderTimeout, readTimeout time.Duration
}

// WithClock sets the clock of the whole server.
func WithClock(c clock.Clock) Option { return func(o *serverOptions) { o.clock = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *serverOptions) { o.log = l } }

// WithRoute mounts h at pattern beside the API, on the same listeners and
// mux. `dcvmail bench` mounts its ceiling endpoint this way; `serve` mounts
// nothing extra.
func WithRoute(pattern string, h http.Handler) Option {
	return func(o *serverOptions) {
		if o.routes == nil {
			o.routes = map[string]http.Handler{}
		}
		o.routes[pattern] = h
	}
}

// New opens the database, binds the listeners and prepares everything; Serve
// then runs it. Listen addresses with port 0 get a free port (see URL).
func New(ctx context.Context, cfg config.Serve, opts ...Option) (*Server, error) {
	so := serverOptions{clock: clock.System, random: rand.Reader, log: slog.Default()}
	for _, o := range opts {
		o(&so)
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if fi, err := os.Stat(cfg.Data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		so.log.Warn("the data directory is open to other users; its TLS key and database should be private (chmod 700)",
			"data", cfg.Data, "mode", fi.Mode().Perm().String())
	}
	certs, err := newCertHolder(cfg, so.clock)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clock: so.clock, certs: certs}
	if s.httpsLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if cfg.HTTPListen != "" {
		if s.plainLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("--http-listen: %w", err)
		}
	}
	if cfg.AdminListen != "" {
		if s.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("--admin-listen: %w", err)
		}
	}
	if lp, err := netip.ParseAddrPort(s.httpsLn.Addr().String()); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("--listen: %w", err)
	} else if err := checkDemo(cfg, lp, so.log); err != nil {
		s.closeListeners()
		return nil, err
	}
	var adminOpts guardOptions
	if s.adminLn != nil {
		if adminOpts, err = adminGuard(cfg.Guard, s.adminLn); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "https://" + publicHost(s.httpsLn.Addr())
	}
	resolvers := []string(cfg.DNSResolvers)
	switch {
	case slices.Contains(resolvers, "none"):
		if len(resolvers) > 1 {
			s.closeListeners()
			return nil, errors.New(`--dns-resolver "none" cannot be combined with resolvers`)
		}
		resolvers = nil
		so.log.Info("--dns-resolver none: DNS contacts are off, constructed addresses only")
	case len(resolvers) > 0:
	case cfg.Demo:
		// The demo is offline and repeatable: no DNS unless asked for.
		so.log.Info("--demo without --dns-resolver: DNS contacts are off, constructed addresses only")
	default:
		if resolvers, err = contacts.SystemResolvers(); err != nil {
			so.log.Warn("no system resolver: DNS contacts are off", "err", err)
		}
	}
	timeline, err := dcv.LoadTimeline(cfg.PolicyFile)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("--policy-file: %w", err)
	}
	requireAD, err := RequireAD(cfg.DNSRequireAD, timeline, so.clock.Now())
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.timeline, s.requireAD, s.resolvers = timeline, requireAD, resolvers
	finder := contacts.NewFinder(contacts.Config{Resolvers: resolvers, Quorum: cfg.DNSQuorum, RequireAD: requireAD, Timeout: cfg.DNSTimeout})
	app, err := Open(ctx, AppOptions{
		DatabaseURL: cfg.DatabaseURL(),
		Clock:       so.clock,
		Random:      so.random,
		Policy: dcv.Policy{
			CodeValidity:   cfg.CodeValidity,
			ResendBurst:    cfg.ResendBurst,
			ResendInterval: cfg.ResendInterval,
			OfferWindow:    24 * time.Hour,
		},
		Finder:    finder,
		PublicURL: publicURL,
		MailFrom:  cfg.MailFrom,
		Log:       so.log,
	})
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.App = app
	for name, v := range map[string]string{settingPublicURL: publicURL, settingMailFrom: cfg.MailFrom} {
		if err := app.Store.SetSetting(ctx, name, v); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.enableOrders(ctx, cfg, publicURL, finder, so.clock, so.log); err != nil { // orders.go
		s.Close()
		return nil, err
	}
	if err := setDemoEnabled(ctx, app.Store, cfg.Demo, so.clock.Now()); err != nil {
		s.Close()
		return nil, fmt.Errorf("demo account: %w", err)
	}
	if cfg.Demo {
		if err := SeedDemo(ctx, app); err != nil {
			s.Close()
			return nil, fmt.Errorf("--demo: %w", err)
		}
	}

	sender, parallel, err := newSender(cfg, app, so.clock, so.log)
	if err != nil {
		s.Close()
		return nil, err
	}
	if c, ok := sender.(io.Closer); ok {
		s.closeSender = c
	}
	s.worker = &mail.Worker{
		Store:     app.Store,
		Sender:    sender,
		Clock:     so.clock,
		From:      cfg.MailFrom,
		Owner:     workerName(),
		Parallel:  parallel,
		Lease:     cfg.Mail.Lease,
		MaxAge:    cfg.Mail.MaxAge,
		RetryBase: cfg.Mail.RetryBase,
		RetryMax:  cfg.Mail.RetryMax,
		Log:       so.log,
	}
	app.wake = s.worker.Wake
	s.ops = newOperations(cfg, app, s.certs, so.clock, so.log)
	s.worker.Observe = s.ops.delivered

	lockout, err := newLockout(ctx, app.Store, cfg.Limits, so.log)
	if err != nil {
		s.Close()
		return nil, err
	}
	lockout.SetObserver(s.ops.metrics)
	auth := accounts.NewAuthenticator(app.Store, accounts.WithClock(so.clock), accounts.WithLockout(lockout))
	handler := api.New(api.Config{DCV: app.DCV, Auth: auth, TrustedProxies: proxies, Log: so.log,
		RequestLimit: requestLimit(cfg.Limits, so.clock, so.log), Observe: s.ops.metrics.APIRequest})
	// The confirmation page rides on the API's mux, so both listeners serve it.
	handler.Handle(web.Path, web.New(web.Config{DCV: app.DCV, TrustedProxies: proxies, Log: so.log, Observe: s.ops.metrics.Page}))
	for pattern, h := range so.routes {
		handler.Handle(pattern, h)
	}
	s.caRoutes(handler.Handle) // orders.go
	s.https = newHTTPServer(handler, so.log)
	s.https.TLSConfig = certs.tlsConfig()
	if s.plainLn != nil {
		s.plain = newHTTPServer(handler, so.log)
	}
	if s.adminLn != nil {
		s.admin = newHTTPServer(guard(adminOpts, s.adminHandler()), so.log)
	}
	s.applyTestTimeouts(so)
	return s, nil
}

// newSender is the outbox's sender: SMTP with --smtp, else the built-in
// mailbox; either signs with DKIM when --dkim-key is given. It also returns
// how many deliveries the worker should run at once.
func newSender(cfg config.Serve, app *App, clk clock.Clock, log *slog.Logger) (mail.Sender, int, error) {
	var signer *mail.DKIM
	if cfg.Mail.DKIMKey != "" {
		domain := cfg.Mail.DKIMDomain
		if domain == "" {
			if a, err := netmail.ParseAddress(cfg.MailFrom); err == nil {
				_, domain, _ = strings.Cut(a.Address, "@")
			}
		}
		var err error
		if signer, err = mail.LoadDKIM(cfg.Mail.DKIMKey, cfg.Mail.DKIMSelector, domain); err != nil {
			return nil, 0, fmt.Errorf("--dkim-key: %w", err)
		}
		record, _ := signer.TXTRecord()
		log.Info("DKIM signing on", "record", signer.RecordName(), "txt", record)
	} else if cfg.Mail.DKIMSelector != "" || cfg.Mail.DKIMDomain != "" {
		return nil, 0, errors.New("--dkim-selector/--dkim-domain: --dkim-key is needed too")
	}
	if cfg.SMTP == "" {
		return &mail.Mailbox{Store: app.Store, Clock: clk, Codes: app.DCV.RandomValues().Find, DKIM: signer}, 0, nil
	}
	conns := cfg.Mail.SMTPConnections
	if conns <= 0 {
		conns = mail.DefaultSMTPConnections
	}
	smtp, err := mail.NewSMTP(mail.SMTPConfig{
		URL:         cfg.SMTP,
		CAFile:      cfg.Mail.SMTPCA,
		Connections: conns,
		Timeout:     cfg.Mail.SMTPTimeout,
		HELO:        cfg.Mail.SMTPHELO,
		DKIM:        signer,
		Log:         log,
	})
	if err != nil {
		return nil, 0, err
	}
	log.Info("delivering mail over SMTP", "server", smtp.String(), "connections", conns)
	return smtp, conns, nil
}

// newHTTPServer sets timeouts that bound what a slow or idle client costs.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func publicHost(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func workerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
}

// URL is the HTTPS base URL, e.g. https://127.0.0.1:8443.
func (s *Server) URL() string { return "https://" + s.httpsLn.Addr().String() }

// HTTPURL is the plain-HTTP base URL, or "".
func (s *Server) HTTPURL() string {
	if s.plainLn == nil {
		return ""
	}
	return "http://" + s.plainLn.Addr().String()
}

// AdminURL is the admin base URL, or "".
func (s *Server) AdminURL() string {
	if s.adminLn == nil {
		return ""
	}
	return "http://" + s.adminLn.Addr().String()
}

// Serve runs the listeners and the outbox worker until Shutdown; it returns
// the first listener error, or nil after a Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.workerStarted, s.stopWorker, s.workerDone = true, cancel, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.workerDone)
		s.worker.Run(wctx)
	}()
	errc := make(chan error, 3)
	run := func(srv *http.Server, ln net.Listener, tlsOn bool) {
		var err error
		if tlsOn {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}
	n := 1
	go run(s.https, s.httpsLn, true)
	if s.plain != nil {
		n++
		go run(s.plain, s.plainLn, false)
	}
	if s.admin != nil {
		n++
		go run(s.admin, s.adminLn, false)
	}
	s.App.Log.Info("dcvmail serving", "https", s.URL(), "http", s.HTTPURL(), "admin", s.AdminURL(), "db", s.App.Store.Dialect(),
		"dnsResolvers", len(s.resolvers), "dnsRequireAD", s.requireAD)
	var inForce []string
	for _, r := range dcv.RulesAt(s.timeline, s.clock.Now()) {
		if r.InForce {
			inForce = append(inForce, r.ID)
		}
	}
	s.App.Log.Info("policy rules in force", "rules", strings.Join(inForce, " "))
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

// Shutdown stops accepting requests, lets those in flight finish (until ctx
// ends), stops the outbox worker after its current batch, and closes the
// database.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		for _, srv := range []*http.Server{s.https, s.plain, s.admin} {
			if srv != nil {
				if e := srv.Shutdown(ctx); e != nil && err == nil {
					err = e
				}
			}
		}
		s.mu.Lock()
		s.stopped = true
		started := s.workerStarted
		s.mu.Unlock()
		if started {
			s.stopWorker()
			<-s.workerDone
		}
		if s.closeSender != nil {
			s.closeSender.Close()
		}
		s.App.Close()
	})
	return err
}

// Close releases a Server that was never served.
func (s *Server) Close() {
	s.closeListeners()
	if s.closeSender != nil {
		s.closeSender.Close()
	}
	if s.App != nil {
		s.App.Close()
	}
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.httpsLn, s.plainLn, s.adminLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// adminHandler serves the operator endpoints; it is never on the public
// listener.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		pending, err := s.App.Store.PendingDeliveries(r.Context())
		if err != nil {
			s.App.Log.Error("admin status", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(Status{
			Database:          s.App.Store.Dialect(),
			PendingDeliveries: pending,
			DNSResolvers:      len(s.resolvers),
			DNSRequireAD:      s.requireAD,
			Policy:            s.App.DCV.Policy().String(),
			Rules:             dcv.RulesAt(s.timeline, s.clock.Now()),
		})
	})
	// Liveness only: a database outage is /readyz's to report; a failing
	// liveness check would have the process restarted, which mends nothing.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	s.ops.mount(mux)
	mux.HandleFunc("GET /mailbox", func(w http.ResponseWriter, r *http.Request) {
		var order int64
		if v := r.URL.Query().Get("order"); v != "" {
			var err error
			if order, err = strconv.ParseInt(v, 10, 64); err != nil || order <= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": "order " + strconv.Quote(v) + ": want an order number"})
				return
			}
		}
		msgs, err := s.App.Store.Mailbox(r.Context(), order)
		if err != nil {
			s.App.Log.Error("admin mailbox", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(msgs)
	})
	mailbox.New(mailbox.Config{Store: s.App.Store, Log: s.App.Log}).Register(mux)
	s.mountRootPEM(mux) // orders.go
	return mux
}

// Status is what the admin listener's /status reports.
type Status struct {
	Database          string          `json:"database"`
	PendingDeliveries int             `json:"pendingDeliveries"`
	DNSResolvers      int             `json:"dnsResolvers"`
	DNSRequireAD      bool            `json:"dnsRequireAD"`
	Policy            string          `json:"policy"`
	Rules             []dcv.RuleState `json:"rules"`
}

// RequireAD reads --dns-require-ad: "true", "false", or "auto", which
// requires DNSSEC-validated answers once the timeline's dnssec-contacts rule
// is in force.
func RequireAD(mode string, timeline []dcv.Rule, now time.Time) (bool, error) {
	switch mode {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return dcv.InForce(timeline, "dnssec-contacts", now), nil
	}
	return false, fmt.Errorf("--dns-require-ad %q: want true, false or auto", mode)
}
