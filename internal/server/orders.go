package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
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
	caCfg := ca.URLs(base)
	caCfg.Clock = clk
	var authority *ca.CA
	var err error
	if cfg.Orders.CACert != "" {
		authority, err = operatorCA(cfg.Orders, caCfg)
	} else {
		authority, err = ca.Open(ctx, s.App.Store, caCfg)
	}
	if err != nil {
		return err
	}
	if w := authority.WaivedLints(); len(w) > 0 {
		log.Warn("the CA's URLs are on a name that is not public: lints waived", "lints", w)
	}
	cat := catalog.Builtin()
	if cfg.Orders.ProductCatalog != "" {
		if cat, err = catalog.Load(cfg.Orders.ProductCatalog); err != nil {
			return fmt.Errorf("--product-catalog: %w", err)
		}
	}
	var bl *csr.Blocklist
	if cfg.Orders.Blocklist != "" {
		if bl, err = csr.LoadBlocklist(cfg.Orders.Blocklist); err != nil {
			return fmt.Errorf("--key-blocklist: %w", err)
		}
	}
	s.App.DCV.EnableOrders(dcv.OrdersConfig{Catalog: cat, CA: authority, CAA: finder, CAAIdentities: cfg.Orders.CAAIdentities, Blocklist: bl, Log: log})
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
// the CA certificates as DER.
func (s *Server) caRoutes(mount func(string, http.Handler)) {
	o := s.App.DCV.Orders()
	if o == nil {
		return
	}
	mount("/ocsp", o.CA.OCSPHandler(s.App.DCV))
	mount("/ocsp/", o.CA.OCSPHandler(s.App.DCV))
	mount("GET /crl/issuing.crl", s.der("application/pkix-crl", func(r *http.Request) ([]byte, error) { return s.App.DCV.CRL(r.Context()) }))
	mount("GET /crl/root.crl", s.der("application/pkix-crl", func(*http.Request) ([]byte, error) { return o.CA.RootCRL() }))
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
