package ca

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// opensslPath finds the openssl command line tool. Without it the test
// skips, unless CI=true, where .ci/run installs it and a skip would hide a
// broken machine.
func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed (CI=true makes that a failure; .ci/run installs Debian's openssl)")
		}
		t.Skip("openssl is not installed: the check against OpenSSL is skipped (apt-get install openssl)")
	}
	return p
}

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, opensslPath(t), args...).CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenSSLVerify(t *testing.T) {
	t.Parallel()
	opensslPath(t)
	c := testCA(t)
	dir := t.TempDir()
	root := writeFile(t, dir, "root.pem", c.RootPEM())
	inter := writeFile(t, dir, "inter.pem", PEM(c.Issuer()))
	for name, leaf := range map[string][]byte{
		"ecdsa": PEM(issueDV(t, c, "example.com", "www.example.com")),
		"rsa":   PEM(issueRSA(t, c)),
	} {
		leafPath := writeFile(t, dir, name+".pem", leaf)
		out, err := openssl(t, "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", "www.example.com",
			"-CAfile", root, "-untrusted", inter, leafPath)
		if err != nil || !strings.Contains(out, ": OK") {
			t.Fatalf("%s: openssl verify: %v\n%s", name, err, out)
		}
	}
	// The negative control: another CA's root does not verify it.
	other, _ := caAt(t, time.Now())
	otherRoot := writeFile(t, dir, "other.pem", other.RootPEM())
	leafPath := filepath.Join(dir, "ecdsa.pem")
	if out, err := openssl(t, "verify", "-CAfile", otherRoot, "-untrusted", inter, leafPath); err == nil {
		t.Fatalf("openssl verify accepts a chain to another root:\n%s", out)
	}
}

func issueRSA(t *testing.T, c *CA) *x509.Certificate {
	t.Helper()
	leaf, err := c.Issue(IssueRequest{PublicKey: rsaKey().Public(), Names: []string{"example.com", "www.example.com"}, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// openssl ocsp, against the handler on loopback, says good, then revoked
// with the reason once the lookup says so; and openssl reads the CRL as
// signed by the issuing CA, listing the serial.
func TestOpenSSLOCSPAndCRL(t *testing.T) {
	t.Parallel()
	opensslPath(t)
	c := testCA(t)
	st := newStatuses()
	mux := http.NewServeMux()
	mux.Handle("/ocsp", c.OCSPHandler(st))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	leaf := issueDV(t, c, "revoke.example.com")
	st.set(leaf.SerialNumber, Status{Known: true})
	dir := t.TempDir()
	root := writeFile(t, dir, "root.pem", c.RootPEM())
	inter := writeFile(t, dir, "inter.pem", PEM(c.Issuer()))
	leafPath := writeFile(t, dir, "leaf.pem", PEM(leaf))
	ask := func() string {
		t.Helper()
		out, err := openssl(t, "ocsp", "-issuer", inter, "-cert", leafPath, "-url", srv.URL+"/ocsp",
			"-CAfile", root, "-no_nonce", "-timeout", "10")
		if err != nil {
			t.Fatalf("openssl ocsp: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Response verify OK") {
			t.Fatalf("openssl does not verify the response:\n%s", out)
		}
		return out
	}
	if out := ask(); !strings.Contains(out, leafPath+": good") {
		t.Fatalf("before revocation:\n%s", out)
	}
	at := time.Now().UTC().Truncate(time.Second)
	st.set(leaf.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: at, Reason: ReasonKeyCompromise})
	if out := ask(); !strings.Contains(out, leafPath+": revoked") || !strings.Contains(out, "Reason: keyCompromise") {
		t.Fatalf("after revocation:\n%s", out)
	}

	crl, err := c.CRL([]Revoked{{Serial: leaf.SerialNumber, At: at, Reason: ReasonKeyCompromise}})
	if err != nil {
		t.Fatal(err)
	}
	crlPath := writeFile(t, dir, "crl.der", crl)
	chain := writeFile(t, dir, "chain.pem", PEM(c.Chain()...))
	out, err := openssl(t, "crl", "-inform", "DER", "-in", crlPath, "-CAfile", chain, "-noout", "-text")
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	serial := strings.ToUpper(leaf.SerialNumber.Text(16))
	if !strings.Contains(strings.ReplaceAll(out, ":", ""), serial) || !strings.Contains(out, "Key Compromise") {
		t.Fatalf("the CRL does not list %s with its reason:\n%s", serial, out)
	}
	// And openssl verify with CRL checking says the leaf is revoked.
	crlPEM := writeFile(t, dir, "crl.pem", pemCRL(crl))
	rootCRL, err := c.RootCRL()
	if err != nil {
		t.Fatal(err)
	}
	rootCRLPEM := writeFile(t, dir, "rootcrl.pem", pemCRL(rootCRL))
	out, err = openssl(t, "verify", "-crl_check_all", "-CRLfile", crlPEM, "-CRLfile", rootCRLPEM, "-CAfile", root, "-untrusted", inter, leafPath)
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check_all: %v\n%s", err, out)
	}
	other := writeFile(t, dir, "other.pem", PEM(issueDV(t, c, "fine.example.com")))
	if out, err := openssl(t, "verify", "-crl_check_all", "-CRLfile", crlPEM, "-CRLfile", rootCRLPEM, "-CAfile", root, "-untrusted", inter, other); err != nil {
		t.Fatalf("an unrevoked leaf with the CRLs: %v\n%s", err, out)
	}
}

func pemCRL(der []byte) []byte {
	return []byte("-----BEGIN X509 CRL-----\n" + wrap64(der) + "-----END X509 CRL-----\n")
}

func TestOpenSSLReadsPKCS7(t *testing.T) {
	t.Parallel()
	opensslPath(t)
	c := testCA(t)
	leaf := issueDV(t, c, "p7.example.com")
	p7, err := PKCS7(append(c.Chain(), leaf)...)
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, t.TempDir(), "bundle.p7b", p7)
	out, err := openssl(t, "pkcs7", "-inform", "DER", "-in", p, "-print_certs", "-noout")
	if err != nil || strings.Count(out, "subject=") != 3 || !strings.Contains(out, "CN = p7.example.com") {
		t.Fatalf("openssl pkcs7: %v\n%s", err, out)
	}
}

func wrap64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}
