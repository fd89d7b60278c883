package api_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"golang.org/x/crypto/ocsp"
)

const (
	applyPath   = "/products/!AutoApplySSL"
	collectPath = "/products/download/CollectSSL"
	revokePath  = "/products/!AutoRevokeSSL"
)

// newCSR makes a P-256 key and a CSR for names (the first is the CN).
func newCSR(t *testing.T, names ...string) (string, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), key
}

// parseForm reads a URL-encoded answer as a client does.
func parseForm(t *testing.T, body string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return v
}

func (f *fixture) as(extra ...string) url.Values {
	return form(append([]string{"loginName", alice, "loginPassword", alicePass}, extra...)...)
}

// confirm submits the order's captured DCV code on the page.
func (f *fixture) confirm(order int64) {
	f.T.Helper()
	mails := f.Mailbox(order)
	if len(mails) == 0 {
		f.T.Fatalf("order %d: no DCV email captured", order)
	}
	code := mails[len(mails)-1].DCVCode
	status, _, body := f.Do(http.MethodPost, f.Server.URL()+"/products/EnterDCVCode2", "application/x-www-form-urlencoded",
		url.Values{"orderNumber": {n(order)}, "dcvCode": {code}}.Encode())
	if status != 200 || !strings.Contains(body, "correct Domain Control Validation code") {
		f.T.Fatalf("confirm: HTTP %d %s", status, body)
	}
}

// TestOrderLife goes through the whole life over HTTP: address list,
// apply, the DCV email in the built-in mailbox, the page, issuance,
// CollectSSL (chain verified with crypto/x509 and openssl), revocation,
// and the CRL and OCSP saying revoked.
func TestOrderLife(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true, AdminListen: true})
	csrPEM, key := newCSR(t, "shop.example.com")
	f.offer("shop.example.com")

	body := f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM, "days", "90",
		"dcvEmailAddress", "admin@example.com", "showCertificateID", "Y", "responseFormat", "1"))
	ans := parseForm(t, body)
	if ans.Get("errorCode") != "0" || ans.Get("totalCost") != "10.00" || ans.Get("expectedDeliveryTime") != "1" || ans.Get("certificateID") == "" {
		t.Fatalf("apply: %s", body)
	}
	if !strings.HasPrefix(body, "errorCode=0&orderNumber=") {
		t.Fatalf("apply keys out of order: %s", body)
	}
	order, _ := strconv.ParseInt(ans.Get("orderNumber"), 10, 64)
	ds := f.domains(order)
	if len(ds) != 2 || ds[0].Name != "shop.example.com" || ds[1].Name != "www.shop.example.com" || ds[0].Recipient != "admin@example.com" {
		t.Fatalf("domains: %+v", ds)
	}

	collect := func(extra ...string) url.Values {
		t.Helper()
		return parseForm(t, f.Post(collectPath, f.as(append([]string{"orderNumber", n(order), "responseFormat", "1"}, extra...)...)))
	}
	if got := collect("queryType", "1"); got.Get("errorCode") != "0" || got.Get("certificate") != "" {
		t.Fatalf("collect before DCV: %v", got)
	}

	f.confirm(order)
	// The confirmation of the order's last domain issued the certificate
	// itself, before any CollectSSL (which would also try).
	var issued int
	if err := f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM certificates WHERE order_number = $1 AND issued_ms IS NOT NULL`, &issued, order); err != nil || issued != 1 {
		t.Fatalf("%d certificates issued by the confirmation (%v), want 1", issued, err)
	}

	got := collect("queryType", "1", "showValidityPeriod", "Y", "showFQDN", "Y", "showStatusDetails", "Y")
	if got.Get("errorCode") != "2" || got.Get("fqdn") != "shop.example.com" || got.Get("caaStatus") != "1" {
		t.Fatalf("collect after DCV: %v", got)
	}
	leafDER, err := base64.StdEncoding.DecodeString(got.Get("certificate"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	if nb, _ := strconv.ParseInt(got.Get("notBefore"), 10, 64); nb != leaf.NotBefore.Unix() {
		t.Fatalf("notBefore %s, certificate %v", got.Get("notBefore"), leaf.NotBefore)
	}
	cas := got["caCertificate"]
	if len(cas) != 2 {
		t.Fatalf("caCertificate: %d values", len(cas))
	}
	var chain []*x509.Certificate
	for _, c := range cas {
		der, _ := base64.StdEncoding.DecodeString(c)
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, x)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[0])
	inter.AddCert(chain[1])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "www.shop.example.com",
		CurrentTime: f.Clock.Now()}); err != nil {
		t.Fatalf("verify chain (root first): %v", err)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Fatal("the certificate is not for the CSR's key")
	}
	// The raw answer percent-encodes base64: no raw + / or =.
	raw := f.Post(collectPath, f.as("orderNumber", n(order), "queryType", "2", "responseFormat", "1"))
	if v := strings.SplitN(raw, "certificate=", 2)[1]; strings.ContainsAny(v, "+/=") {
		t.Fatalf("base64 not percent-encoded: %s", raw)
	}
	opensslVerify(t, f, chain, leaf)

	// Root PEM from the admin listener is the chain's root.
	_, _, rootPEM := f.Do(http.MethodGet, f.Server.AdminURL()+"/ca/root.pem", "", "")
	if b, _ := pem.Decode([]byte(rootPEM)); b == nil || string(b.Bytes) != string(chain[0].Raw) {
		t.Fatalf("/ca/root.pem is not the root")
	}

	// The CRL before: nothing revoked. It is kept for an unchanged list
	// (ca.CRLReuse); the revocation below must show in it at once all the
	// same.
	if before, err := x509.ParseRevocationList(fetch(t, f, leaf.CRLDistributionPoints[0])); err != nil || len(before.RevokedCertificateEntries) != 0 {
		t.Fatalf("CRL before revocation: %v, %+v", err, before)
	}

	// test=Y changes nothing.
	wantBody(t, f.Post(revokePath, f.as("orderNumber", n(order), "test", "Y", "responseFormat", "1")), "errorCode=0")
	if st := ocspStatus(t, f, leaf, chain[1]); st != ocsp.Good {
		t.Fatalf("OCSP after test revocation: %d", st)
	}
	wantBody(t, f.Post(revokePath, f.as("serialNumber", leaf.SerialNumber.Text(16), "codeReason", "1")), "0\n")
	if st := ocspStatus(t, f, leaf, chain[1]); st != ocsp.Revoked {
		t.Fatalf("OCSP after revocation: %d", st)
	}
	crl := fetch(t, f, leaf.CRLDistributionPoints[0])
	list, err := x509.ParseRevocationList(crl)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.CheckSignatureFrom(chain[1]); err != nil {
		t.Fatal(err)
	}
	if len(list.RevokedCertificateEntries) != 1 || list.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 ||
		list.RevokedCertificateEntries[0].ReasonCode != 1 {
		t.Fatalf("CRL entries: %+v", list.RevokedCertificateEntries)
	}
	if got := collect("queryType", "1"); got.Get("errorCode") != "-21" {
		t.Fatalf("collect after revocation: %v", got)
	}
	wantBody(t, f.Post(revokePath, f.as("orderNumber", n(order))), "-21\nThe certificate has already been revoked!\n")

	// The account validated these names: a new order for them is issued at
	// once, without an email (reuse of validation).
	emails := f.Count(0).Emails
	again, _ := newCSR(t, "www.shop.example.com")
	body = f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", again, "showCertificateState", "Y"))
	lines := strings.Split(body, "\n")
	if len(lines) != 7 || lines[0] != "0" || lines[4] != "Issued" {
		t.Fatalf("apply reusing validation (newline answer): %q", body)
	}
	if f.Count(0).Emails != emails {
		t.Fatal("a reused validation sent an email")
	}
}

// fetch GETs a URL of a certificate (the plain-HTTP listener).
func fetch(t *testing.T, f *fixture, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

func ocspStatus(t *testing.T, f *fixture, leaf, issuer *x509.Certificate) int {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(leaf.OCSPServer[0], "application/ocsp-request", strings.NewReader(string(req)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r, err := ocsp.ParseResponseForCert(b, leaf, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

// opensslVerify runs openssl verify on the chain when openssl is there.
func opensslVerify(t *testing.T, f *fixture, chain []*x509.Certificate, leaf *x509.Certificate) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("no openssl: skipping openssl verify")
		return
	}
	dir := t.TempDir()
	write := func(name string, c *x509.Certificate) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600)
		return p
	}
	root, inter, l := write("root.pem", chain[0]), write("inter.pem", chain[1]), write("leaf.pem", leaf)
	out, err := exec.Command(bin, "verify", "-attime", strconv.FormatInt(f.Clock.Now().Unix(), 10),
		"-CAfile", root, "-untrusted", inter, l).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}
