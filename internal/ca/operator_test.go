package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// operatorCA makes what an operator would bring: an RSA root and an RSA
// issuing CA under it, by the profile Generate uses.
func operatorCA(t *testing.T) (rootCert, issCert *x509.Certificate, issKey *rsa.PrivateKey) {
	t.Helper()
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	issKey, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	rootT := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "Operator Root", Organization: []string{"Operator"}, Country: []string{"GB"}},
		NotBefore: now, NotAfter: now.AddDate(5, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootT, rootT, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ = x509.ParseCertificate(rootDER)
	issT := issuingTemplate(URLs(testBase), now)
	issT.Subject = pkix.Name{CommonName: "Operator Issuing CA", Organization: []string{"Operator"}, Country: []string{"GB"}}
	issDER, err := x509.CreateCertificate(rand.Reader, issT, rootCert, issKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	issCert, _ = x509.ParseCertificate(issDER)
	return rootCert, issCert, issKey
}

func keyPEM(t *testing.T, k crypto.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestFromPEM(t *testing.T) {
	t.Parallel()
	root, iss, key := operatorCA(t)
	c, err := FromPEM(PEM(iss), keyPEM(t, key), PEM(root), URLs(testBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Root() != c.Chain()[0] || !c.Root().Equal(root) || !c.Issuer().Equal(iss) {
		t.Fatal("chain order")
	}
	leaf, err := c.Issue(IssueRequest{PublicKey: rsaKey().Public(), Names: []string{"example.com"}, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, c, leaf, time.Now())
	if _, err := c.RootCRL(); err == nil {
		t.Fatal("a root CRL without the root key")
	}
	// PKCS#1 key form and a chain with unrelated certificates in it.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if _, err := FromPEM(PEM(iss), pkcs1, PEM(testCA(t).Root(), root), URLs(testBase)); err != nil {
		t.Fatalf("PKCS#1 key, extra chain certificate: %v", err)
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	gen := testCA(t)
	for name, tc := range map[string]struct {
		cert, key, chain []byte
		want             string
	}{
		"wrong key":      {PEM(iss), keyPEM(t, otherKey), PEM(root), "does not belong"},
		"no root":        {PEM(iss), keyPEM(t, key), nil, "no certificate that issued"},
		"wrong root":     {PEM(iss), keyPEM(t, key), gen.RootPEM(), "no certificate that issued"},
		"two certs":      {PEM(iss, root), keyPEM(t, key), PEM(root), "exactly one"},
		"not a cert":     {[]byte("hello"), keyPEM(t, key), PEM(root), "exactly one"},
		"key is a cert":  {PEM(iss), PEM(iss), PEM(root), "want PRIVATE KEY"},
		"chain has key":  {PEM(iss), keyPEM(t, key), keyPEM(t, key), "where a CERTIFICATE belongs"},
		"leaf as the CA": {PEM(issueDV(t, gen, "x.example.com")), keyPEM(t, ecKey()), gen.RootPEM(), "no certificate that issued"},
	} {
		_, err := FromPEM(tc.cert, tc.key, tc.chain, URLs(testBase))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
	// A leaf given as the CA with the chain that issued it: not a CA.
	leafCert := issueDV(t, gen, "y.example.com")
	if _, err := FromPEM(PEM(leafCert), keyPEM(t, ecKey()), PEM(gen.Chain()...), URLs(testBase)); err == nil {
		t.Error("a leaf is accepted as the issuing CA")
	}
}

// With URLs on a host that is not a public name (a demo on localhost),
// the one lint about internal names in AIA is waived, and said to be; on a
// public name nothing beyond Waived is.
func TestInternalURLsWaiveOneLint(t *testing.T) {
	t.Parallel()
	for base, internal := range map[string]bool{
		"http://localhost:8080":         true,
		"http://127.0.0.1:8080":         true,
		"http://dcvmail.test":           true,
		"http://ca.example.com":         false,
		"http://ca.dcvmail.example.com": false,
	} {
		if got := URLs(base).internalURLs(); got != internal {
			t.Errorf("%s: internal %v", base, got)
		}
	}
	c, err := Open(t.Context(), &MemStore{}, URLs("http://localhost:8080"))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.WaivedLints(); len(w) != 1 || w[0] != waivedInternal {
		t.Fatalf("waived %v", w)
	}
	if len(testCA(t).WaivedLints()) != 0 {
		t.Fatal("a CA on a public name waives a lint")
	}
	leaf := issueDV(t, c, "example.com")
	// The full registry does flag it: the waiver is what let it through.
	if err := Lint(leaf.Raw); err == nil || !strings.Contains(err.Error(), waivedInternal) {
		t.Fatalf("the internal-names lint does not fire on a localhost AIA: %v", err)
	}
}
