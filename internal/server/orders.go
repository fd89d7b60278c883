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
	"strconv"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/costly"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
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
// CRLs (signed anew whenever the revoked list in the store changed, so a
// revocation shows at once; ca.CRLReuse) and the CA certificates as DER.
// The OCSP answers are signed for each request, a CRL costs reading the
// revoked list at least, and anyone may ask for them: they are costly work
// (signed).
func (s *Server) caRoutes(mount func(string, http.Handler), proxies origin.Proxies, guard *costly.Guard) {
	o := s.App.DCV.Orders()
	if o == nil {
		return
	}
	signed := func(h http.Handler) http.Handler { return s.signed(guard, proxies, h) }
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

// signed makes h, which signs what it answers, costly work (internal/costly):
// a request over its source's rate, or while its source has as many waiting
// as it may, gets HTTP 503 with Retry-After at once, before anything is read
// or signed.
func (s *Server) signed(guard *costly.Guard, proxies origin.Proxies, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, retry, err := guard.Enter(r.Context(), proxies.Of(r).IP)
		if errors.Is(err, costly.ErrBusy) {
			s.ops.metrics.SigningRefused()
			w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			http.Error(w, "busy: too many requests for signatures from this source", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			return // the client has gone
		}
		defer release()
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
