package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/fairslots"
	"github.com/dcvmail/dcvmail/internal/keyrate"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/origin"
)

// enableOrders opens the CA (the operator's, or the generated one kept in
// the database) and the catalogue, and turns the order life on in the DCV
// service. Certificates point at the CA's URLs on the host of --public-url:
// on --http-listen's port over http:// (the BR profile). Without
// --http-listen the order life stays off, with a warning.
func (s *Server) enableOrders(ctx context.Context, cfg config.Serve, publicURL string, finder *contacts.Finder, clk clock.Clock, log *slog.Logger) error {
	base := publicURL
	if s.plainLn != nil {
		u, err := url.Parse(publicURL)
		if err != nil {
			return fmt.Errorf("--public-url: %w", err)
		}
		_, port, _ := net.SplitHostPort(s.plainLn.Addr().String())
		base = "http://" + net.JoinHostPort(u.Hostname(), port)
	} else {
		// The BR profile (and so the linter that runs before every
		// signature) wants http:// URLs: without a plain listener the CA
		// cannot issue, and the order calls stay off.
		log.Warn("no --http-listen: the test CA needs http:// CRL and OCSP URLs (BR profile); AutoApplySSL, CollectSSL and AutoRevokeSSL are off")
		return nil
	}
	// Admin commands (order validate) sign as serve does: they read these.
	err := s.App.Store.Tx(ctx, func(tx model.Tx) error {
		for name, v := range map[string]string{settingCABase: base, settingCatalog: cfg.Orders.ProductCatalog,
			settingCACert: cfg.Orders.CACert, settingCAKey: cfg.Orders.CAKey, settingCAChain: cfg.Orders.CAChain} {
			if err := tx.SetSetting(ctx, name, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return enableOrders(ctx, s.App, base, cfg.Orders, finder, clk, log)
}

// Settings that serve records for the admin commands that issue.
const (
	settingCABase  = "ca_base_url"
	settingCatalog = "product_catalog"
	settingCACert  = "ca_cert"
	settingCAKey   = "ca_key"
	settingCAChain = "ca_chain"
)

// EnableOrders turns the order life on in an admin command's app with what
// serve recorded (its CA URLs, catalogue and CA files); false when serve
// never ran with --http-listen on this database.
func EnableOrders(ctx context.Context, a *App, clk clock.Clock) (bool, error) {
	base, err := a.Store.Setting(ctx, settingCABase)
	if err != nil || base == "" {
		return false, err
	}
	var o config.Orders
	for name, dst := range map[string]*string{settingCatalog: &o.ProductCatalog, settingCACert: &o.CACert, settingCAKey: &o.CAKey, settingCAChain: &o.CAChain} {
		if *dst, err = a.Store.Setting(ctx, name); err != nil {
			return false, err
		}
	}
	return true, enableOrders(ctx, a, base, o, nil, clk, a.Log)
}

func enableOrders(ctx context.Context, a *App, base string, o config.Orders, finder *contacts.Finder, clk clock.Clock, log *slog.Logger) error {
	caCfg := ca.URLs(base)
	caCfg.Clock = clk
	var authority *ca.CA
	var err error
	if o.CACert != "" {
		authority, err = operatorCA(o, caCfg)
	} else {
		authority, err = ca.Open(ctx, a.Store, caCfg)
	}
	if err != nil {
		return err
	}
	if w := authority.WaivedLints(); len(w) > 0 {
		log.Warn("the CA's URLs are on a name that is not public: lints waived", "lints", w)
	}
	cat := catalog.Builtin()
	if o.ProductCatalog != "" {
		if cat, err = catalog.Load(o.ProductCatalog); err != nil {
			return fmt.Errorf("--product-catalog: %w", err)
		}
	}
	var bl *csr.Blocklist
	if o.Blocklist != "" {
		if bl, err = csr.LoadBlocklist(o.Blocklist); err != nil {
			return fmt.Errorf("--key-blocklist: %w", err)
		}
	}
	var caa dcv.CAAChecker
	if finder != nil {
		caa = finder
	}
	a.DCV.EnableOrders(dcv.OrdersConfig{Catalog: cat, CA: authority, CAA: caa, CAAIdentities: o.CAAIdentities, Blocklist: bl, Log: log})
	return nil
}

func operatorCA(o config.Orders, cfg ca.Config) (*ca.CA, error) {
	var parts [3][]byte
	for i, path := range []string{o.CACert, o.CAKey, o.CAChain} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		parts[i] = b
	}
	return ca.FromPEM(parts[0], parts[1], parts[2], cfg)
}

// caRoutes serves what certificates point at: the OCSP responder, the
// CRLs (made afresh on every request, so a revocation shows at once) and
// the CA certificates as DER. The OCSP answers and the CRLs are signed for
// each request, and anyone may ask for them: they take turns for signing
// slots (signed).
func (s *Server) caRoutes(mount func(string, http.Handler), proxies origin.Proxies) {
	o := s.App.DCV.Orders()
	if o == nil {
		return
	}
	sg := &signing{
		slots:   fairslots.New(signingSlots(), signingQueuePerSlot*signingSlots()),
		rates:   keyrate.New[string](signingRate, signingBurst),
		proxies: proxies,
		exempt:  localOnly,
	}
	signed := func(h http.Handler) http.Handler { return s.signed(sg, h) }
	mount("/ocsp", signed(o.CA.OCSPHandler(s.App.DCV)))
	mount("/ocsp/", signed(o.CA.OCSPHandler(s.App.DCV)))
	mount("GET /crl/issuing.crl", signed(s.der("application/pkix-crl", func(r *http.Request) ([]byte, error) { return s.App.DCV.CRL(r.Context()) })))
	mount("GET /crl/root.crl", signed(s.der("application/pkix-crl", func(*http.Request) ([]byte, error) { return o.CA.RootCRL() })))
	mount("GET /ca/issuing.der", s.der("application/pkix-cert", func(*http.Request) ([]byte, error) { return o.CA.Issuer().Raw, nil }))
	mount("GET /ca/root.der", s.der("application/pkix-cert", func(*http.Request) ([]byte, error) { return o.CA.Root().Raw, nil }))
}

// mountRootPEM serves the root in PEM on the admin listener.
func (s *Server) mountRootPEM(mux *http.ServeMux) {
	o := s.App.DCV.Orders()
	if o == nil {
		return
	}
	mux.HandleFunc("GET /ca/root.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(o.CA.RootPEM())
	})
}

// Each OCSP answer and CRL costs a P-384 signature, about 850 us of CPU
// here: a stranger asking for them without pause on a few connections took
// both cores (a reseller's median call went from 1.1 to 30 ms; BENCHMARKS.md,
// sixteenth round). So one source gets at most signingRate signatures a
// second after a burst of signingBurst, and all of them together are
// signed in at most signingSlots at once, which leaves the other half of
// the processors to everything else; in those slots one source holds at
// most all but one, and a freed slot goes to the waiting sources in turn
// (fairslots). A relying party asks for a certificate's status now and
// then: 20 a second is far above it. This machine's own address (a test
// suite against serve --demo, never a stranger) has no rate, as in the
// connection limits (security.go), but shares the slots.
const (
	signingRate  = 20
	signingBurst = 100
	// signingQueuePerSlot is how many requests one source may have waiting
	// for a slot, per slot; more are refused at once.
	signingQueuePerSlot = 16
)

func signingSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// signing holds what signed shares between the CA's endpoints.
type signing struct {
	slots   *fairslots.Slots
	rates   *keyrate.Limiter[string]
	proxies origin.Proxies
	exempt  origin.Proxies // sources without a rate
}

// signed makes h, which signs what it answers, keep to its source's rate
// and wait for a signing slot. A request over either gets HTTP 503 with
// Retry-After at once, before anything is read or signed.
func (s *Server) signed(sg *signing, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := sg.proxies.Of(r).IP
		src, ok := origin.Source(ip)
		if !ok {
			src = "unknown"
		}
		busy := func(retry int) {
			s.ops.metrics.SigningRefused()
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			http.Error(w, "busy: too many requests for signatures from this source", http.StatusServiceUnavailable)
		}
		if !sg.exempt.Trusted(ip) {
			now := s.clock.Now()
			if ok, next, _ := sg.rates.Allow(src, now); !ok {
				busy(max(1, int(next.Sub(now).Round(time.Second)/time.Second)))
				return
			}
		}
		if err := sg.slots.Acquire(r.Context(), src); err != nil {
			if errors.Is(err, fairslots.ErrBusy) {
				busy(1)
			}
			return // otherwise the client has gone
		}
		defer sg.slots.Release(src)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) der(ctype string, make func(*http.Request) ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := make(r)
		if err != nil {
			s.App.Log.Error("CA endpoint", "path", r.URL.Path, "err", err)
			http.Error(w, "not available", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Write(b)
	})
}
