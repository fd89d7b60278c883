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
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
)

// testBase is on a public name, so that no lint is waived for it.
const testBase = "http://ca.dcvmail.example.com:8080"

// Keys and a CA on the system clock are shared by the tests: making them
// is the slow part under -race.
var (
	rsaKey   = sync.OnceValue(func() *rsa.PrivateKey { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k })
	ecKey    = sync.OnceValue(func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	sharedCA = sync.OnceValues(func() (*CA, error) {
		return Open(context.Background(), &MemStore{}, URLs(testBase))
	})
)

func testCA(t *testing.T) *CA {
	t.Helper()
	c, err := sharedCA()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// caAt makes a CA whose clock is a fake set to at.
func caAt(t *testing.T, at time.Time) (*CA, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(at)
	cfg := URLs(testBase)
	cfg.Clock = clk
	c, err := Open(context.Background(), &MemStore{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func verify(t *testing.T, c *CA, leaf *x509.Certificate, at time.Time) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(c.Root())
	inter := x509.NewCertPool()
	inter.AddCert(c.Issuer())
	for _, name := range leaf.DNSNames {
		probe := strings.Replace(name, "*", "anything", 1)
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: probe, Roots: roots, Intermediates: inter, CurrentTime: at}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestGeneratedCA(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	root, iss := c.Root(), c.Issuer()
	for _, cert := range []*x509.Certificate{root, iss} {
		if !strings.Contains(cert.Subject.CommonName, "dcvmail test") || !strings.Contains(cert.Subject.CommonName, "not trusted") ||
			cert.Subject.Organization[0] != "dcvmail test (not trusted)" {
			t.Errorf("name %q does not say what it is", cert.Subject)
		}
		if err := Lint(cert.Raw); err != nil {
			t.Errorf("%s: %v", cert.Subject.CommonName, err)
		}
	}
	if !isSelfSigned(root) || iss.CheckSignatureFrom(root) != nil {
		t.Fatal("the issuing CA is not signed by the root")
	}
	if !iss.MaxPathLenZero || iss.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || iss.CRLDistributionPoints[0] != testBase+"/crl/root.crl" {
		t.Errorf("issuing CA profile: %+v", iss)
	}
	if len(c.Chain()) != 2 || c.Chain()[0] != root {
		t.Fatal("chain is not root first")
	}
	if b, _ := pem.Decode(c.RootPEM()); b == nil || string(b.Bytes) != string(root.Raw) {
		t.Fatal("RootPEM is not the root")
	}
}

func TestOpenKeepsTheFirstCA(t *testing.T) {
	t.Parallel()
	store := &MemStore{}
	var wg sync.WaitGroup
	cas := make([]*CA, 4)
	errs := make([]error, 4)
	for i := range cas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cas[i], errs[i] = Open(context.Background(), store, URLs(testBase))
		}()
	}
	wg.Wait()
	for i, c := range cas {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if string(c.Root().Raw) != string(cas[0].Root().Raw) || string(c.Issuer().Raw) != string(cas[0].Issuer().Raw) {
			t.Fatal("nodes starting together got different CAs")
		}
	}
	again, err := Open(context.Background(), store, URLs(testBase))
	if err != nil || string(again.Root().Raw) != string(cas[0].Root().Raw) {
		t.Fatalf("a restart made a new CA: %v", err)
	}
	// A leaf from one node verifies with the other's chain.
	leaf, err := cas[1].Issue(IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, cas[2], leaf, time.Now())
}

func TestOpenRefusesABrokenStore(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"garbage":  "hello",
		"one cert": string(testCA(t).RootPEM()),
	} {
		s := &MemStore{pem: []byte(doc)}
		if _, err := Open(context.Background(), s, URLs(testBase)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Open(context.Background(), &MemStore{}, Config{OCSPURL: "ftp://x"}); err == nil {
		t.Error("a config without URLs is accepted")
	}
	noRoot := URLs(testBase)
	noRoot.RootCRLURL = ""
	if _, err := Open(context.Background(), &MemStore{}, noRoot); err == nil {
		t.Error("a CA is made without the root's CRL URL")
	}
	if _, err := Open(context.Background(), failingStore{}, URLs(testBase)); err == nil {
		t.Error("a store error is ignored")
	}
}

type failingStore struct{}

func (failingStore) LoadCA(context.Context) ([]byte, error) { return nil, errors.New("disk on fire") }
func (failingStore) SaveCA(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("disk on fire")
}

func TestIssueProfile(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	for name, tc := range map[string]struct {
		key  crypto.Signer
		req  IssueRequest
		ku   x509.KeyUsage
		pol  x509.OID
		subj string
	}{
		"dv rsa": {rsaKey(), IssueRequest{Names: []string{"example.com", "www.example.com"}, Validation: DV, Days: 90},
			x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, oidPolicyDV, "CN=example.com"},
		"dv ecdsa wildcard": {ecKey(), IssueRequest{Names: []string{"*.example.com", "example.com"}, Validation: DV, Subject: pkix.Name{Organization: []string{"ignored for DV"}}},
			x509.KeyUsageDigitalSignature, oidPolicyDV, "CN=*.example.com"},
		"ov": {ecKey(), IssueRequest{Names: []string{"shop.example.com"}, Validation: OV, Days: 30,
			Subject: pkix.Name{Organization: []string{"Example Ltd"}, Locality: []string{"London"}, Country: []string{"GB"}}},
			x509.KeyUsageDigitalSignature, oidPolicyOV, "CN=shop.example.com,O=Example Ltd,L=London,C=GB"},
		"ev": {ecKey(), IssueRequest{Names: []string{"bank.example.com"}, Validation: EV, Subject: evSubject()},
			x509.KeyUsageDigitalSignature, oidPolicyEV, "SERIALNUMBER=01234567,CN=bank.example.com,O=Example Bank plc,L=London,C=GB"},
		"long name, no cn": {ecKey(), IssueRequest{Names: []string{strings.Repeat("a", 60) + ".example.com"}, Validation: DV},
			x509.KeyUsageDigitalSignature, oidPolicyDV, ""},
	} {
		t.Run(name, func(t *testing.T) {
			tc.req.PublicKey = tc.key.Public()
			leaf, err := c.Issue(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if err := Lint(leaf.Raw); err != nil {
				t.Fatal(err)
			}
			verify(t, c, leaf, time.Now())
			if tc.subj != "" && !strings.HasPrefix(leaf.Subject.String(), tc.subj) {
				t.Errorf("subject %q, want %q", leaf.Subject, tc.subj)
			}
			if tc.subj == "" && leaf.Subject.CommonName != "" {
				t.Errorf("a CN over 64 characters: %q", leaf.Subject.CommonName)
			}
			if strings.Join(leaf.DNSNames, " ") != strings.Join(tc.req.Names, " ") {
				t.Errorf("SAN %v", leaf.DNSNames)
			}
			if leaf.KeyUsage != tc.ku || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(leaf.UnknownExtKeyUsage) != 0 {
				t.Errorf("usage %v %v", leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			if len(leaf.Policies) != 1 || !leaf.Policies[0].Equal(tc.pol) {
				t.Errorf("policies %v", leaf.Policies)
			}
			if leaf.IsCA || leaf.OCSPServer[0] != testBase+"/ocsp" || leaf.IssuingCertificateURL[0] != testBase+"/ca/issuing.der" || leaf.CRLDistributionPoints[0] != testBase+"/crl/issuing.crl" {
				t.Errorf("AIA/CRL DP: %v %v %v", leaf.OCSPServer, leaf.IssuingCertificateURL, leaf.CRLDistributionPoints)
			}
			if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x", leaf.SerialNumber)
			}
		})
	}
}

// evSubject is what the EV Guidelines (7.1.4.2) ask of an EV subject.
func evSubject() pkix.Name {
	return pkix.Name{
		Organization: []string{"Example Bank plc"},
		Locality:     []string{"London"},
		Country:      []string{"GB"},
		SerialNumber: "01234567",
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 15}, Value: "Private Organization"},      // businessCategory
			{Type: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3}, Value: "GB"}, // jurisdictionCountryName
		},
	}
}

func TestSerialsDiffer(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s := randomSerial()
		if s.BitLen() != 127 || seen[s.String()] {
			t.Fatalf("serial %x (bits %d) repeats or is short", s, s.BitLen())
		}
		seen[s.String()] = true
	}
}

// A profile mistake is caught by the linter before anything is signed.
func TestLintCatchesProfileMistakes(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	for name, tc := range map[string]struct {
		req  IssueRequest
		want string
	}{
		"ov without organization": {IssueRequest{Names: []string{"example.com"}, Validation: OV, Subject: pkix.Name{Country: []string{"GB"}}}, "ov_"},
		"ev without its fields":   {IssueRequest{Names: []string{"example.com"}, Validation: EV, Subject: pkix.Name{Organization: []string{"X"}, Country: []string{"GB"}}}, "ev_"},
		"underscore in a name":    {IssueRequest{Names: []string{"exa_mple.com"}, Validation: DV}, "e_"},
		"bad country":             {IssueRequest{Names: []string{"example.com"}, Validation: OV, Subject: pkix.Name{Organization: []string{"X"}, Locality: []string{"Y"}, Country: []string{"QQ"}}}, "country"},
		"a bare IP as a dns name": {IssueRequest{Names: []string{"192.0.2.1"}, Validation: DV}, "e_"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.req.PublicKey = ecKey().Public()
			_, err := c.Issue(tc.req)
			var le *LintError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a lint error mentioning %q", err, tc.want)
			}
		})
	}
	// A template mistake in the CA's own profile: the linter catches it
	// before the issuing key signs (a leaf with the CA bit is a CA).
	tmpl, err := c.leafTemplate(IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageCodeSigning)
	signer := &countingSigner{Signer: c.key}
	if _, err := c.lint.sign(tmpl, c.Issuer(), ecKey().Public(), signer); !IsLintError(err) {
		t.Fatalf("code signing EKU: got %v", err)
	}
	if signer.n != 0 {
		t.Fatal("the CA key signed a certificate that failed the linter")
	}
	tmpl.ExtKeyUsage = tmpl.ExtKeyUsage[:1]
	if _, err := c.lint.sign(tmpl, c.Issuer(), ecKey().Public(), signer); err != nil || signer.n != 1 {
		t.Fatalf("the fixed template: %v, %d signatures", err, signer.n)
	}
}

// The copy the linter reads is the certificate the CA then signs, byte for
// byte but for the signature: the same TBSCertificate, signature algorithm
// included, though a P-256 throwaway key signs the copy of a P-384 CA's
// certificates (and one of the CA's own curve a self-signed root's).
func TestLintedCopyIsTheCertificate(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	if bits := c.Issuer().PublicKey.(*ecdsa.PublicKey).Curve.Params().BitSize; bits != 384 {
		t.Fatalf("the built-in CA is on a %d-bit curve; this test is about P-384", bits)
	}
	for _, pub := range []crypto.PublicKey{ecKey().Public(), rsaKey().Public()} {
		tmpl, err := c.leafTemplate(IssueRequest{PublicKey: pub, Names: []string{"example.com", "www.example.com"}, Validation: DV})
		if err != nil {
			t.Fatal(err)
		}
		copyDER, err := c.lint.copyOf(tmpl, c.Issuer(), pub)
		if err != nil {
			t.Fatal(err)
		}
		realDER, err := c.lint.sign(tmpl, c.Issuer(), pub, c.key)
		if err != nil {
			t.Fatal(err)
		}
		linted, _ := x509.ParseCertificate(copyDER)
		issued, err := x509.ParseCertificate(realDER)
		if err != nil || linted == nil {
			t.Fatalf("parse: %v", err)
		}
		if !bytes.Equal(linted.RawTBSCertificate, issued.RawTBSCertificate) || linted.SignatureAlgorithm != x509.ECDSAWithSHA384 || issued.SignatureAlgorithm != x509.ECDSAWithSHA384 {
			t.Fatalf("%T: the linted copy (%v) differs from the certificate issued (%v)", pub, linted.SignatureAlgorithm, issued.SignatureAlgorithm)
		}
		if err := issued.CheckSignatureFrom(c.Issuer()); err != nil {
			t.Fatal(err)
		}
	}
	// The one zlint lint that reads a certificate's signature guesses the
	// issuer's curve from its length, and would fail every copy signed
	// with P-256 under ECDSA with SHA-384. It is Mozilla's policy, which
	// LintSources leaves out; were it run, the fast key would have to go.
	for _, internal := range []bool{false, true} {
		r, err := registry(internal)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(r.Names(), "e_mp_ecdsa_signature_encoding_correct") {
			t.Fatal("e_mp_ecdsa_signature_encoding_correct is run: the linted copy must then be signed on the CA's own curve")
		}
	}
}

type countingSigner struct {
	crypto.Signer
	mu sync.Mutex
	n  int
}

func (s *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.Signer.Sign(r, d, o)
}

func TestIssueRefusesBadRequests(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	for name, req := range map[string]IssueRequest{
		"no names":       {PublicKey: ecKey().Public(), Validation: DV},
		"no key":         {Names: []string{"example.com"}, Validation: DV},
		"bad validation": {PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: "XV"},
	} {
		if _, err := c.Issue(req); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}
