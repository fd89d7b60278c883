package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
)

// certHolder is the HTTPS listener's certificate. The TLS configuration
// asks it for the certificate at each handshake, so a reload (SIGHUP,
// ReloadTLS) changes what new connections get while connections already
// open keep going untouched: nothing is closed or restarted.
type certHolder struct {
	certFile, keyFile, dataDir string
	hosts                      []string
	clock                      clock.Clock
	cur                        atomic.Pointer[tls.Certificate]
}

func newCertHolder(cfg config.Serve, clk clock.Clock) (*certHolder, error) {
	h := &certHolder{certFile: cfg.TLSCert, keyFile: cfg.TLSKey, dataDir: cfg.Data, clock: clk}
	for _, v := range cfg.Ops.TLSHosts {
		for _, one := range strings.Split(v, ",") {
			if one = strings.TrimSpace(one); one != "" {
				h.hosts = append(h.hosts, one)
			}
		}
	}
	if h.certFile != "" && len(h.hosts) > 0 {
		return nil, fmt.Errorf("--tls-hosts names the hosts of the generated certificate; with --tls-cert the certificate's own names apply")
	}
	if _, err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

// load reads the certificate (or makes the self-signed one) and puts it in
// force. On failure the one in force stays.
func (h *certHolder) load() (*tls.Certificate, error) {
	c, err := loadOrCreateCertificate(h.certFile, h.keyFile, h.dataDir, h.hosts, h.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	h.cur.Store(&c)
	return &c, nil
}

// tlsConfig is the listener's TLS configuration with the certificate taken
// from the holder at each handshake.
func (h *certHolder) tlsConfig() *tls.Config {
	c := tlsConfig(tls.Certificate{})
	c.Certificates = nil
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return h.cur.Load(), nil }
	return c
}

// ReloadTLS reads the TLS certificate and key again (what `serve` does on
// SIGHUP): new connections get the new certificate, open ones are kept.
// When the files cannot be read or do not match, the certificate in force
// stays and the error says why.
func (s *Server) ReloadTLS() error {
	c, err := s.certs.load()
	if err != nil {
		s.App.Log.Error("TLS certificate reload failed; the previous certificate stays in force", "err", err)
		return err
	}
	leaf := c.Leaf
	s.App.Log.Info("TLS certificate reloaded", "subject", leaf.Subject.String(), "names", strings.Join(leaf.DNSNames, " "),
		"notAfter", leaf.NotAfter, "serial", leaf.SerialNumber.Text(16))
	return nil
}

// covers reports whether cert names every host (a DNS name or an IP
// address).
func covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if strings.HasPrefix(h, "*.") {
			// VerifyHostname matches names against a wildcard, not a
			// wildcard against itself.
			if !slices.Contains(cert.DNSNames, strings.ToLower(h)) {
				return false
			}
		} else if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// addHosts puts hosts into a certificate template: IP addresses as such,
// anything else as a DNS name.
func addHosts(tmpl *x509.Certificate, hosts []string) {
	for _, h := range hosts {
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(h))
		}
	}
}
