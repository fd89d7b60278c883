// Package server assembles dcvmail from its parts: it opens the store, builds
// the DCV service, the API and the outbox worker, and runs the listeners
// (HTTPS, optional plain HTTP, optional admin) until told to stop.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/dcvmail/dcvmail/internal/admin"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/costly"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/web"
)

// App is the opened domain, built by the one assembly (internal/app).
type App = app.App

// AppOptions are app.Config; they stay here for the callers written before
// internal/app.
type AppOptions = app.Config

// Open is app.Open, for the callers written before internal/app.
func Open(ctx context.Context, o AppOptions) (*App, error) { return app.Open(ctx, o) }

// Server is a running dcvmail.
type Server struct {
	App    *App
	cfg    config.Serve
	clock  clock.Clock
	worker *delivery.Worker

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

	testControls bool // --test-controls or --demo (controls.go)

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
	// Every rule reads time through the offset clock, which the test
	// controls move (controls.go).
	offset := clock.NewOffset(so.clock, 0)
	so.clock = offset
	proxies, err := cfg.Proxies()
	if err != nil {
		return nil, err
	}
	if err := prepareData(cfg.Data, so.log); err != nil {
		return nil, err
	}
	certs, err := newCertHolder(cfg, so.clock)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clock: so.clock, certs: certs}
	adminOpts, err := s.listen(cfg, so.log)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	settings, err := serveSettings(cfg, s.httpsLn.Addr(), so.clock, so.log)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	if s.App, err = app.Open(ctx, app.Config{DatabaseURL: cfg.DatabaseURL(), Clock: so.clock, Random: so.random,
		Log: so.log, Record: true, Settings: settings,
		// Every serve sends: the built-in mailbox keeps what it captured
		// readable by design, but the messages waiting in the outbox are
		// sealed alike, so that moving to --smtp changes nothing at rest.
		MessageKeyFile: cfg.MessageKeyPath(), SendsMail: true}); err != nil {
		s.closeListeners()
		return nil, err
	}
	controls, err := s.openControls(ctx, offset)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.enableOrders(ctx, cfg, settings.PublicURL, s.App.Finder, so.clock, so.log); err != nil { // orders.go
		s.Close()
		return nil, err
	}
	if err := s.seedDemo(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.newWorker(); err != nil {
		s.Close()
		return nil, err
	}
	// The work anyone may ask for that costs far more than answering: the
	// test CA's signatures and DecodeCSR's key checks (internal/costly).
	costlyWork := costly.New(localOnly, s.clock)
	handler, err := s.newHandler(ctx, proxies, so, controls, costlyWork)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.caRoutes(handler.Handle, proxies, costlyWork) // orders.go
	limiter := connLimiter(cfg.Limits, proxies, s.ops.metrics, so.log)
	s.httpsLn = limiter.Listen(s.httpsLn)
	s.https = newHTTPServer(handler, so.log)
	s.https.TLSConfig = certs.tlsConfig()
	s.https.ConnState = limiter.ConnState
	if s.plainLn != nil {
		s.plainLn = limiter.Listen(s.plainLn)
		s.plain = newHTTPServer(handler, so.log)
		s.plain.ConnState = limiter.ConnState
	}
	if s.adminLn != nil {
		s.admin = newHTTPServer(guard(adminOpts, s.adminHandler(controls.admin(handler.Endpoints(), s.worker.Wake))), so.log)
	}
	s.applyTestTimeouts(so)
	return s, nil
}

// prepareData creates --data, and warns when other users may read it.
func prepareData(data string, log *slog.Logger) error {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	if fi, err := os.Stat(data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is open to other users; its TLS key and database should be private (chmod 700)",
			"data", data, "mode", fi.Mode().Perm().String())
	}
	return nil
}

// listen binds the HTTPS, plain and admin listeners, refuses a --demo that
// would be reachable from outside, and returns the admin listener's guard.
// The caller closes the listeners on error.
func (s *Server) listen(cfg config.Serve, log *slog.Logger) (guardOptions, error) {
	var err error
	if s.httpsLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return guardOptions{}, fmt.Errorf("--listen: %w", err)
	}
	if cfg.HTTPListen != "" {
		if s.plainLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			return guardOptions{}, fmt.Errorf("--http-listen: %w", err)
		}
	}
	if cfg.AdminListen != "" {
		if s.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return guardOptions{}, fmt.Errorf("--admin-listen: %w", err)
		}
	}
	lp, err := netip.ParseAddrPort(s.httpsLn.Addr().String())
	if err != nil {
		return guardOptions{}, fmt.Errorf("--listen: %w", err)
	}
	if err := checkDemo(cfg, lp, log); err != nil {
		return guardOptions{}, err
	}
	if s.adminLn == nil {
		return guardOptions{}, nil
	}
	return adminGuard(cfg.Guard, s.adminLn)
}

// serveSettings are the settings that decide DCV outcomes, from the flags
// of serve; app.Open records them for admin commands and other nodes.
func serveSettings(cfg config.Serve, https net.Addr, clk clock.Clock, log *slog.Logger) (app.Settings, error) {
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "https://" + publicHost(https)
	}
	resolvers, err := dnsResolvers(cfg, log)
	if err != nil {
		return app.Settings{}, err
	}
	timeline, err := dcv.LoadTimeline(cfg.PolicyFile)
	if err != nil {
		return app.Settings{}, fmt.Errorf("--policy-file: %w", err)
	}
	if _, err := app.RequireAD(cfg.DNSRequireAD, timeline, clk.Now()); err != nil {
		return app.Settings{}, err
	}
	return app.Settings{
		PublicURL: publicURL,
		MailFrom:  cfg.MailFrom,
		Policy: dcv.Policy{
			CodeValidity:   cfg.CodeValidity,
			ResendBurst:    cfg.ResendBurst,
			ResendInterval: cfg.ResendInterval,
			OfferWindow:    dcv.DefaultPolicy.OfferWindow,
		},
		Timeline: timeline,
		DNS:      app.DNS{Resolvers: resolvers, Quorum: cfg.DNSQuorum, RequireAD: cfg.DNSRequireAD, Timeout: cfg.DNSTimeout},
	}, nil
}

// dnsResolvers reads --dns-resolver: the resolvers of DNS contact lookups,
// none with "none" or with --demo alone, else the system's.
func dnsResolvers(cfg config.Serve, log *slog.Logger) ([]string, error) {
	resolvers := []string(cfg.DNSResolvers)
	switch {
	case slices.Contains(resolvers, "none"):
		if len(resolvers) > 1 {
			return nil, errors.New(`--dns-resolver "none" cannot be combined with resolvers`)
		}
		log.Info("--dns-resolver none: DNS contacts are off, constructed addresses only")
		return nil, nil
	case len(resolvers) > 0:
		return resolvers, nil
	case cfg.Demo:
		// The demo is offline and repeatable: no DNS unless asked for.
		log.Info("--demo without --dns-resolver: DNS contacts are off, constructed addresses only")
		return nil, nil
	}
	resolvers, err := contacts.SystemResolvers()
	if err != nil {
		log.Warn("no system resolver: DNS contacts are off", "err", err)
	}
	return resolvers, nil
}

// seedDemo enables or disables the demo account as --demo says, and seeds
// the demo data with it.
func (s *Server) seedDemo(ctx context.Context) error {
	if err := setDemoEnabled(ctx, s.App.Store, s.cfg.Demo, s.clock.Now()); err != nil {
		return fmt.Errorf("demo account: %w", err)
	}
	if !s.cfg.Demo {
		return nil
	}
	if err := SeedDemo(ctx, s.App); err != nil {
		return fmt.Errorf("--demo: %w", err)
	}
	return nil
}

// newWorker builds the outbox worker and its sender, and the operations
// (metrics, readiness) that observe it.
func (s *Server) newWorker() error {
	cfg, log := s.cfg, s.App.Log
	sender, parallel, err := newSender(cfg, s.App, s.clock, log)
	if err != nil {
		return err
	}
	if c, ok := sender.(io.Closer); ok {
		s.closeSender = c
	}
	s.worker = &delivery.Worker{
		Store:     s.App.Store,
		Sender:    sender,
		Clock:     s.clock,
		From:      cfg.MailFrom,
		Owner:     workerName(),
		Parallel:  parallel,
		Lease:     cfg.Mail.Lease,
		MaxAge:    cfg.Mail.MaxAge,
		RetryBase: cfg.Mail.RetryBase,
		RetryMax:  cfg.Mail.RetryMax,
		Log:       log,
	}
	s.App.SetEnqueued(s.worker.Wake)
	s.ops = newOperations(cfg, s.App, s.certs, s.clock, log)
	s.worker.Observe = s.ops.delivered
	return nil
}

// newHandler is the public mux: the API, with the login lockout and the
// per-account request limit, and the confirmation page beside it.
func (s *Server) newHandler(ctx context.Context, proxies []netip.Prefix, so serverOptions, controls *controls, costlyWork *costly.Guard) (*api.Handler, error) {
	a, log := s.App, so.log
	lockout, err := newLockout(ctx, a.Store, s.cfg.Limits, log)
	if err != nil {
		return nil, err
	}
	lockout.SetObserver(s.ops.metrics)
	auth := accounts.NewAuthenticator(a.Store, accounts.WithClock(s.clock), accounts.WithLockout(lockout))
	gate := admissionGate(s.cfg.Limits, a.Store, s.ops.metrics.Backlogged, log)
	handler := api.New(api.Config{DCV: a.DCV, Auth: auth, TrustedProxies: proxies, Log: log,
		RequestLimit: requestLimit(s.cfg.Limits, s.clock, log), Admission: gate,
		Observe: s.ops.metrics.APIRequest, Faults: controls.faultSet(), Costly: costlyWork})
	// The confirmation page rides on the API's mux, so both listeners serve it.
	handler.Handle(web.Path, controls.page(web.New(web.Config{DCV: a.DCV, TrustedProxies: proxies, Log: log,
		Observe: s.ops.metrics.Page, Admission: gate})))
	for pattern, h := range so.routes {
		handler.Handle(pattern, h)
	}
	return handler, nil
}

// newSender is the outbox's sender: SMTP with --smtp, else the built-in
// mailbox; either signs with DKIM when --dkim-key is given. It also returns
// how many deliveries the worker should run at once.
func newSender(cfg config.Serve, app *App, clk clock.Clock, log *slog.Logger) (delivery.Sender, int, error) {
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
		return &delivery.Mailbox{Store: app.Store, Clock: clk, Codes: app.DCV.RandomValues().Find, DKIM: signer}, 0, nil
	}
	conns := cfg.Mail.SMTPConnections
	if conns <= 0 {
		conns = delivery.DefaultSMTPConnections
	}
	smtp, err := delivery.NewSMTP(delivery.SMTPConfig{
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
		"dnsResolvers", len(s.App.Settings.DNS.Resolvers), "dnsRequireAD", s.App.RequireAD, "testControls", s.testControls)
	var inForce []string
	for _, r := range dcv.RulesAt(s.App.Settings.Timeline, s.clock.Now()) {
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

// adminHandler serves the operator endpoints (package admin); it is never
// on the public listener.
func (s *Server) adminHandler(controls *admin.Controls) http.Handler {
	return admin.Handler(admin.Config{
		App:      s.App,
		DCV:      s.App.DCV,
		Log:      s.App.Log,
		Mount:    func(mux *http.ServeMux) { s.ops.mount(mux); s.mountRootPEM(mux) }, // orders.go
		Controls: controls,
		Status: func(ctx context.Context) (any, error) {
			pending, err := s.App.Store.PendingDeliveries(ctx)
			return Status{
				Database:          s.App.Store.Dialect(),
				PendingDeliveries: pending,
				DNSResolvers:      len(s.App.Settings.DNS.Resolvers),
				DNSRequireAD:      s.App.RequireAD,
				Policy:            s.App.DCV.Policy().String(),
				Rules:             dcv.RulesAt(s.App.Settings.Timeline, s.clock.Now()),
				TestControls:      s.testControls,
			}, err
		},
	})
}

// Status is what the admin listener's /status reports.
type Status struct {
	Database          string          `json:"database"`
	PendingDeliveries int             `json:"pendingDeliveries"`
	DNSResolvers      int             `json:"dnsResolvers"`
	DNSRequireAD      bool            `json:"dnsRequireAD"`
	Policy            string          `json:"policy"`
	Rules             []dcv.RuleState `json:"rules"`
	TestControls      bool            `json:"testControls"`
}
