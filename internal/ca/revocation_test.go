package ca

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/ocsp"
)

// statuses is a StatusLookup over a map, as the store will be one.
type statuses struct {
	mu sync.Mutex
	m  map[string]Status
}

func newStatuses() *statuses { return &statuses{m: map[string]Status{}} }

func (s *statuses) set(serial *big.Int, st Status) {
	s.mu.Lock()
	s.m[serial.String()] = st
	s.mu.Unlock()
}

func (s *statuses) CertStatus(_ context.Context, serial *big.Int) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[serial.String()], nil
}

func issueDV(t *testing.T, c *CA, names ...string) *x509.Certificate {
	t.Helper()
	leaf, err := c.Issue(IssueRequest{PublicKey: ecKey().Public(), Names: names, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestCRL(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	a, b := issueDV(t, c, "a.example.com"), issueDV(t, c, "b.example.com")
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	der, err := c.CRL([]Revoked{{Serial: a.SerialNumber, At: at, Reason: ReasonKeyCompromise}, {Serial: b.SerialNumber, At: at}})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(c.Issuer()); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("%d entries", len(crl.RevokedCertificateEntries))
	}
	e := crl.RevokedCertificateEntries[0]
	if e.SerialNumber.Cmp(a.SerialNumber) != 0 || e.ReasonCode != ReasonKeyCompromise || !e.RevocationTime.Equal(at) {
		t.Errorf("entry %+v", e)
	}
	if crl.RevokedCertificateEntries[1].ReasonCode != 0 {
		t.Error("an unspecified reason is written out")
	}
	if crl.NextUpdate.Sub(crl.ThisUpdate) != CRLValidity || crl.Number.Sign() <= 0 {
		t.Errorf("times %s %s number %v", crl.ThisUpdate, crl.NextUpdate, crl.Number)
	}
	if err := LintCRL(der); err != nil {
		t.Fatal(err)
	}
	// A later CRL has a larger number.
	time.Sleep(time.Millisecond)
	der2, _ := c.CRL(nil)
	crl2, _ := x509.ParseRevocationList(der2)
	if crl2.Number.Cmp(crl.Number) <= 0 {
		t.Fatal("CRL numbers do not grow")
	}
	root, err := c.RootCRL()
	if err != nil {
		t.Fatal(err)
	}
	rcrl, err := x509.ParseRevocationList(root)
	if err != nil || rcrl.CheckSignatureFrom(c.Root()) != nil || len(rcrl.RevokedCertificateEntries) != 0 {
		t.Fatalf("root CRL: %v", err)
	}
	if err := LintCRL(root); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CRL([]Revoked{{}}); err == nil {
		t.Fatal("an entry without a serial is accepted")
	}
}

// A CRL is made anew when its list changes, and at least every CRLReuse;
// in between the last one is answered again, unchanged.
func TestCRLIsMadeAnewWhenItsListChanges(t *testing.T) {
	t.Parallel()
	c, clk := caAt(t, time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC))
	a, b := issueDV(t, c, "a.example.com"), issueDV(t, c, "b.example.com")
	at := clk.Now().Add(-time.Minute)
	one := []Revoked{{Serial: a.SerialNumber, At: at, Reason: ReasonKeyCompromise}}
	crl := func(revoked []Revoked) *x509.RevocationList {
		t.Helper()
		der, err := c.CRL(revoked)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil || l.CheckSignatureFrom(c.Issuer()) != nil {
			t.Fatalf("CRL: %v", err)
		}
		return l
	}
	first := crl(one)
	clk.Advance(CRLReuse - time.Second)
	if again := crl(slices.Clone(one)); !bytes.Equal(again.Raw, first.Raw) {
		t.Fatalf("the same list %v later: a new CRL (number %v, was %v)", CRLReuse-time.Second, again.Number, first.Number)
	}
	// Any change to the list is a new CRL, in the same second too.
	// Their numbers grow though the clock stands still.
	last := first.Number
	for _, tc := range []struct {
		name string
		list []Revoked
	}{
		{"another certificate", append(slices.Clone(one), Revoked{Serial: b.SerialNumber, At: at})},
		{"another reason", []Revoked{{Serial: a.SerialNumber, At: at, Reason: ReasonSuperseded}}},
		{"another time", []Revoked{{Serial: a.SerialNumber, At: at.Add(time.Second), Reason: ReasonKeyCompromise}}},
		{"none", nil},
	} {
		l := crl(tc.list)
		if l.Number.Cmp(last) <= 0 || len(l.RevokedCertificateEntries) != len(tc.list) {
			t.Errorf("%s: number %v (the last %v), %d entries, want a new CRL of %d", tc.name, l.Number, last, len(l.RevokedCertificateEntries), len(tc.list))
		}
		last = l.Number
	}
	// Back to the first list: the last CRL was of another, so a new one.
	back := crl(one)
	if back.Number.Cmp(first.Number) <= 0 || !back.ThisUpdate.Equal(clk.Now().Truncate(time.Second)) {
		t.Fatalf("the first list again: number %v, thisUpdate %v", back.Number, back.ThisUpdate)
	}
	// CRLReuse after its thisUpdate, the same list gets a new CRL.
	clk.Advance(CRLReuse)
	if l := crl(one); l.Number.Cmp(back.Number) <= 0 || !l.ThisUpdate.Equal(clk.Now().Truncate(time.Second)) {
		t.Fatalf("%v later: number %v (was %v), thisUpdate %v", CRLReuse, l.Number, back.Number, l.ThisUpdate)
	}
	// A clock set back gets one whose thisUpdate is not in its future,
	// with a larger number still.
	later := crl(one)
	clk.Advance(-time.Hour)
	if l := crl(one); l.ThisUpdate.After(clk.Now()) || l.Number.Cmp(later.Number) <= 0 {
		t.Fatalf("clock set back to %v: thisUpdate %v, number %v (was %v)", clk.Now(), l.ThisUpdate, l.Number, later.Number)
	}
	// The root's CRL likewise.
	r1, _ := c.RootCRL()
	clk.Advance(time.Minute)
	r2, _ := c.RootCRL()
	clk.Advance(CRLReuse)
	r3, _ := c.RootCRL()
	if !bytes.Equal(r1, r2) || bytes.Equal(r2, r3) {
		t.Fatal("the root's CRL is not answered again within CRLReuse, or not made anew after it")
	}
}

func ocspQuery(t *testing.T, url, method string, req []byte) (*http.Response, []byte) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.Post(url, "application/ocsp-request", bytes.NewReader(req))
	} else {
		resp, err = http.Get(url + "/" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(base64.StdEncoding.EncodeToString(req)))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestOCSPHandler(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	st := newStatuses()
	mux := http.NewServeMux()
	mux.Handle("/ocsp", c.OCSPHandler(st))
	mux.Handle("/ocsp/", c.OCSPHandler(st))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	leaf := issueDV(t, c, "ocsp.example.com")
	req, err := ocsp.CreateRequest(leaf, c.Issuer(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(method string) *ocsp.Response {
		t.Helper()
		resp, body := ocspQuery(t, srv.URL+"/ocsp", method, req)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Fatalf("%s: HTTP %d %s", method, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		r, err := ocsp.ParseResponseForCert(body, leaf, c.Issuer())
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return r
	}
	for _, m := range []string{http.MethodPost, http.MethodGet} {
		if r := ask(m); r.Status != ocsp.Unknown {
			t.Fatalf("%s: a serial the lookup does not know is %d, want unknown", m, r.Status)
		}
	}
	st.set(leaf.SerialNumber, Status{Known: true})
	if r := ask(http.MethodGet); r.Status != ocsp.Good || r.NextUpdate.Sub(r.ThisUpdate) != OCSPValidity {
		t.Fatalf("good: %+v", r)
	}
	at := time.Now().UTC().Truncate(time.Second)
	st.set(leaf.SerialNumber, Status{Known: true, Revoked: true, RevokedAt: at, Reason: ReasonSuperseded})
	r := ask(http.MethodPost)
	if r.Status != ocsp.Revoked || r.RevocationReason != ReasonSuperseded || !r.RevokedAt.Equal(at) {
		t.Fatalf("revoked: %+v", r)
	}
	if err := r.CheckSignatureFrom(c.Issuer()); err != nil {
		t.Fatal(err)
	}
	// Mounted under another path with http.StripPrefix, GET works too.
	mux.Handle("/status/", http.StripPrefix("/status", c.OCSPHandler(st)))
	resp, body := ocspQuery(t, srv.URL+"/status", http.MethodGet, req)
	if r, err := ocsp.ParseResponseForCert(body, leaf, c.Issuer()); err != nil || r.Status != ocsp.Revoked || resp.Header.Get("Cache-Control") == "no-store" {
		t.Fatalf("GET under /status: %v %+v", err, r)
	}
}

func TestOCSPHandlerRefusals(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	srv := httptest.NewServer(c.OCSPHandler(StatusFunc(func(context.Context, *big.Int) (Status, error) {
		return Status{}, errors.New("database down")
	})))
	defer srv.Close()
	leaf := issueDV(t, c, "x.example.com")
	wantError := func(name string, body []byte, want ocsp.ResponseStatus) {
		t.Helper()
		_, err := ocsp.ParseResponse(body, nil)
		var re ocsp.ResponseError
		if !errors.As(err, &re) || re.Status != want {
			t.Errorf("%s: got %v, want %v", name, err, want)
		}
	}
	req, _ := ocsp.CreateRequest(leaf, c.Issuer(), nil)
	_, body := ocspQuery(t, srv.URL, http.MethodPost, req)
	wantError("lookup failure", body, ocsp.InternalError)
	_, body = ocspQuery(t, srv.URL, http.MethodPost, []byte("not a request"))
	wantError("garbage", body, ocsp.Malformed)
	_, body = ocspQuery(t, srv.URL, http.MethodPost, bytes.Repeat([]byte{0x30}, 1<<20))
	wantError("a megabyte", body, ocsp.Malformed)
	resp, err := http.Get(srv.URL + "/ocsp/not%20base64!")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError("GET of garbage", body, ocsp.Malformed)
	// Another CA's certificate: not ours to answer.
	other, _ := caAt(t, time.Now())
	otherLeaf := issueDV(t, other, "y.example.com")
	req2, _ := ocsp.CreateRequest(otherLeaf, other.Issuer(), nil)
	_, body = ocspQuery(t, srv.URL, http.MethodGet, req2)
	wantError("another issuer", body, ocsp.Unauthorized)
	put, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
	resp, err = http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", resp.StatusCode)
	}
}

func TestBundles(t *testing.T) {
	t.Parallel()
	c := testCA(t)
	leaf := issueDV(t, c, "*.example.com", "example.com")
	all := append(c.Chain(), leaf)
	p7, err := PKCS7(all...)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := pkcs7.Parse(p7)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Certificates) != 3 {
		t.Fatalf("%d certificates", len(parsed.Certificates))
	}
	for i, cert := range parsed.Certificates {
		if !cert.Equal(all[i]) {
			t.Errorf("certificate %d differs", i)
		}
	}
	if _, err := PKCS7(); err == nil {
		t.Error("an empty PKCS#7 is made")
	}
	z, err := ZIP(leaf, c.Chain(), leaf.NotBefore)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"STAR_example_com.crt", "dcvmailtestrootCAnottrusted.crt", "dcvmailtestissuingCAnottrusted.crt"}
	if len(zr.File) != 3 {
		t.Fatalf("%d files", len(zr.File))
	}
	for i, f := range zr.File {
		if f.Name != want[i] {
			t.Errorf("file %d: %q, want %q", i, f.Name, want[i])
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		blk, _ := pem.Decode(b)
		if blk == nil || !bytes.Equal(blk.Bytes, []*x509.Certificate{leaf, c.Root(), c.Issuer()}[i].Raw) {
			t.Errorf("file %s does not hold its certificate", f.Name)
		}
	}
	z2, _ := ZIP(leaf, c.Chain(), leaf.NotBefore)
	if !bytes.Equal(z, z2) {
		t.Error("the same certificate packs differently")
	}
	if got := fileName("../../etc/passwd"); got != "____etcpasswd" {
		t.Errorf("fileName: %q", got)
	}
}
