// Package ca is dcvmail's built-in test certificate authority: a root and
// an issuing intermediate (named "dcvmail test … (not trusted)"), made once
// and kept through a Store so that every node signs with the same keys, or
// given by the operator (FromPEM). It issues TLS server certificates by the
// CA/Browser Forum Baseline Requirements profile, linting each with zlint
// before signing it (Issue), signs CRLs (CRL), answers OCSP (OCSPHandler)
// and packs certificates for CollectSSL (PKCS7, ZIP).
//
// It knows nothing of orders or accounts: the caller decides what to issue
// and keeps what was issued and revoked.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"golang.org/x/net/publicsuffix"
)

// Config says where relying parties find what certificates point at, and
// what time it is. The URLs are baked into every certificate: on the BR
// profile they are http:// URLs (see URLs).
type Config struct {
	OCSPURL    string // the OCSP responder (OCSPHandler), in leaf AIA
	CRLURL     string // the issuing CA's CRL (CRL), in leaf CRL DP
	IssuerURL  string // the issuing CA's certificate as DER, in leaf AIA caIssuers
	RootCRLURL string // the root's CRL (RootCRL), in the intermediate's CRL DP (needed by Generate only)
	RootURL    string // the root as DER, in the intermediate's AIA caIssuers (needed by Generate only)
	// Clock tells the time for validity, CRLs and OCSP; nil is the system clock.
	Clock clock.Clock
}

// URLs is a Config whose URLs lie under base (such as
// "http://dcvmail.example:8080", no trailing slash): /ocsp,
// /crl/issuing.crl, /ca/issuing.der, /crl/root.crl and /ca/root.der. The
// caller serves those paths.
func URLs(base string) Config {
	base = strings.TrimSuffix(base, "/")
	return Config{
		OCSPURL:    base + "/ocsp",
		CRLURL:     base + "/crl/issuing.crl",
		IssuerURL:  base + "/ca/issuing.der",
		RootCRLURL: base + "/crl/root.crl",
		RootURL:    base + "/ca/root.der",
	}
}

func (c Config) check() error {
	for name, u := range map[string]string{"OCSP": c.OCSPURL, "CRL": c.CRLURL, "issuer": c.IssuerURL} {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("ca: %s URL %q: want an http:// URL", name, u)
		}
	}
	return nil
}

// Store keeps the generated CA: its certificates and keys as one PEM
// document. The store will hold private keys: keep it as secret as the
// database.
type Store interface {
	// LoadCA returns what SaveCA kept, or nil when nothing is kept yet.
	LoadCA(ctx context.Context) ([]byte, error)
	// SaveCA keeps pem unless a CA is kept already, and returns the one
	// kept, so that nodes starting at once all end up with the first.
	SaveCA(ctx context.Context, pem []byte) ([]byte, error)
}

// MemStore is a Store in memory, for tests and single-process demos.
type MemStore struct {
	mu  sync.Mutex
	pem []byte
}

// LoadCA implements Store.
func (m *MemStore) LoadCA(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pem, nil
}

// SaveCA implements Store.
func (m *MemStore) SaveCA(_ context.Context, p []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pem == nil {
		m.pem = append([]byte(nil), p...)
	}
	return m.pem, nil
}

// CA is a loaded certificate authority. Its methods are safe for
// concurrent use.
type CA struct {
	chain   []*x509.Certificate // root first, the issuing CA last
	key     crypto.Signer       // the issuing CA's
	rootKey crypto.Signer       // nil when the operator gave the CA
	cfg     Config
	clk     clock.Clock
	lint    *linter
	// The last CRLs made (CRLReuse).
	issuingCRL, rootCRL lastCRL
}

// Names of the generated CA: they say what it is to anyone who finds its
// certificates.
const (
	organization = "dcvmail test (not trusted)"
	rootName     = "dcvmail test root CA (not trusted)"
	issuingName  = "dcvmail test issuing CA (not trusted)"
	country      = "XX" // no country: zlint accepts XX as an ISO 3166 code
)

// Open loads the CA kept in store, or makes one and keeps it when there is
// none. When two nodes make one at once, both use the one the store kept.
func Open(ctx context.Context, store Store, cfg Config) (*CA, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	kept, err := store.LoadCA(ctx)
	if err != nil {
		return nil, fmt.Errorf("ca: load: %w", err)
	}
	if kept == nil {
		made, err := Generate(cfg)
		if err != nil {
			return nil, err
		}
		if kept, err = store.SaveCA(ctx, made); err != nil {
			return nil, fmt.Errorf("ca: save: %w", err)
		}
	}
	return parseBundle(kept, cfg)
}

// FromPEM loads a CA the operator gives (--ca-cert, --ca-key, --ca-chain):
// the issuing CA's certificate, its private key (PKCS#8, PKCS#1 or SEC 1)
// and the certificates above it (any order; the self-signed root among
// them or not at all, when the issuing CA is itself the root). The key
// must match the certificate, which must be a CA allowed to sign
// certificates and CRLs, and the chain must verify up to its root. With
// an operator's CA, RootCRL is not available.
func FromPEM(certPEM, keyPEM, chainPEM []byte, cfg Config) (*CA, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	certs, err := parseCerts(certPEM)
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("ca: the CA certificate: want exactly one PEM CERTIFICATE (%v)", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: the CA key: %w", err)
	}
	above, err := parseCerts(chainPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: the CA chain: %w", err)
	}
	chain, err := orderChain(certs[0], above)
	if err != nil {
		return nil, err
	}
	return newCA(chain, key, nil, cfg)
}

func newCA(chain []*x509.Certificate, key, rootKey crypto.Signer, cfg Config) (*CA, error) {
	issuer := chain[len(chain)-1]
	if !publicKeysEqual(issuer.PublicKey, key.Public()) {
		return nil, errors.New("ca: the key does not belong to the issuing CA's certificate")
	}
	if !issuer.IsCA || issuer.KeyUsage&x509.KeyUsageCertSign == 0 || issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, errors.New("ca: the issuing certificate is not a CA that may sign certificates and CRLs")
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain[0])
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System
	}
	now := clk.Now()
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("ca: the issuing CA does not verify up to its root for server certificates: %w", err)
	}
	l, err := newLinter(key, cfg.internalURLs())
	if err != nil {
		return nil, err
	}
	return &CA{chain: chain, key: key, rootKey: rootKey, cfg: cfg, clk: clk, lint: l}, nil
}

// internalURLs reports whether any URL put in certificates is on a host
// that is not a public DNS name: an IP address, "localhost", or a name
// under a top-level domain the Public Suffix List's ICANN section does not
// know (".test", ".internal").
func (c Config) internalURLs() bool {
	for _, s := range []string{c.OCSPURL, c.CRLURL, c.IssuerURL, c.RootCRLURL, c.RootURL} {
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return true
		}
		host := u.Hostname()
		if net.ParseIP(host) != nil {
			return true
		}
		if _, icann := publicsuffix.PublicSuffix(strings.ToLower(host)); !icann {
			return true
		}
	}
	return false
}

// WaivedLints names the lints skipped beyond Waived because of this CA's
// configuration: with URLs on a non-public host, the lint that says a
// subscriber certificate's AIA holds an internal name. The server should
// warn the operator when this is not empty.
func (c *CA) WaivedLints() []string {
	if c.lint.internalURLs {
		return []string{waivedInternal}
	}
	return nil
}

// orderChain puts leafCA and the certificates above it in order, root
// first, following issuers; certificates that are not on the path are
// ignored.
func orderChain(issuing *x509.Certificate, above []*x509.Certificate) ([]*x509.Certificate, error) {
	path := []*x509.Certificate{issuing}
	for cur := issuing; !isSelfSigned(cur); {
		var next *x509.Certificate
		for _, c := range above {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("ca: the chain has no certificate that issued %q", cur.Subject)
		}
		if len(path) > 8 {
			return nil, errors.New("ca: the chain is longer than 8")
		}
		path = append(path, next)
		cur = next
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// Root is the root certificate, for trust stores.
func (c *CA) Root() *x509.Certificate { return c.chain[0] }

// Issuer is the certificate that signs leaves, CRLs and OCSP responses.
func (c *CA) Issuer() *x509.Certificate { return c.chain[len(c.chain)-1] }

// Chain is the CA certificates, root first and the issuing CA last, as
// CollectSSL answers caCertificate.
func (c *CA) Chain() []*x509.Certificate { return append([]*x509.Certificate(nil), c.chain...) }

// RootPEM is the root in PEM (dcvmail ca export, /ca/root.pem).
func (c *CA) RootPEM() []byte { return PEM(c.chain[0]) }

// PEM encodes certificates as PEM CERTIFICATE blocks, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Generate makes a new root and issuing CA, each an ECDSA P-384 key, and
// returns them as the PEM document a Store keeps. Both certificates are
// linted like leaves.
func Generate(cfg Config) ([]byte, error) {
	if !strings.HasPrefix(cfg.RootCRLURL, "http") || !strings.HasPrefix(cfg.RootURL, "http") {
		return nil, errors.New("ca: making a CA needs the root's CRL and certificate URLs, which its issuing CA points at")
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System
	}
	now := clk.Now().Truncate(time.Second)
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: rootName, Organization: []string{organization}, Country: []string{country}},
		NotBefore:             now,
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	l, err := newLinter(rootKey, cfg.internalURLs())
	if err != nil {
		return nil, err
	}
	rootDER, err := l.sign(root, root, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("ca: root: %w", err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	issDER, err := l.sign(issuingTemplate(cfg, now), rootCert, issKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("ca: issuing CA: %w", err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: issDER})
	for _, k := range []struct {
		role string
		key  *ecdsa.PrivateKey
	}{{"issuing", issKey}, {"root", rootKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, err
		}
		pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Role": k.role}, Bytes: der})
	}
	return b.Bytes(), nil
}

func issuingTemplate(cfg Config, now time.Time) *x509.Certificate {
	t := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: issuingName, Organization: []string{organization}, Country: []string{country}},
		NotBefore:    now,
		NotAfter:     now.AddDate(10, 0, 0),
		// digitalSignature: it signs OCSP responses itself (BR 7.1.2.10.7).
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		Policies:              []x509.OID{oidAnyPolicy},
		CRLDistributionPoints: []string{cfg.RootCRLURL},
		IssuingCertificateURL: []string{cfg.RootURL},
	}
	return t
}

// parseBundle reads what Generate made.
func parseBundle(doc []byte, cfg Config) (*CA, error) {
	var certs []*x509.Certificate
	var key, rootKey crypto.Signer
	for rest := doc; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("ca: kept certificate: %w", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY":
			k, err := parseKey(pem.EncodeToMemory(b))
			if err != nil {
				return nil, fmt.Errorf("ca: kept key: %w", err)
			}
			if b.Headers["Role"] == "root" {
				rootKey = k
			} else {
				key = k
			}
		}
	}
	if len(certs) != 2 || key == nil || rootKey == nil {
		return nil, errors.New("ca: the kept CA is incomplete: want a root, an issuing CA and both keys")
	}
	if !publicKeysEqual(certs[0].PublicKey, rootKey.Public()) {
		return nil, errors.New("ca: the kept root key does not belong to the root")
	}
	return newCA(certs, key, rootKey, cfg)
}

func parseCerts(p []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := p; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("text that is not PEM")
			}
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %q block where a CERTIFICATE belongs", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func parseKey(p []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM %q: want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", b.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("a %T key: want RSA or ECDSA", k)
}

// randomSerial is a positive serial number of 127 random bits (BR 7.1:
// at least 64 bits from a CSPRNG).
func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x40 // never shorter than 16 octets, never zero
	return new(big.Int).SetBytes(b)
}
