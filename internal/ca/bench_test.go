package ca

import (
	"bytes"
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// BenchmarkIssue measures one issuance: the throwaway-key copy, zlint,
// and the real signature.
func BenchmarkIssue(b *testing.B) {
	c, err := sharedCA()
	if err != nil {
		b.Fatal(err)
	}
	req := IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com", "www.example.com"}, Validation: DV}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Issue(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOCSP measures one POST answered by the handler, signature
// included.
func BenchmarkOCSP(b *testing.B) {
	c, err := sharedCA()
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := c.Issue(IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: DV})
	if err != nil {
		b.Fatal(err)
	}
	h := c.OCSPHandler(StatusFunc(func(context.Context, *big.Int) (Status, error) { return Status{Known: true}, nil }))
	req, _ := ocsp.CreateRequest(leaf, c.Issuer(), nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(req)))
		if w.Code != 200 || w.Body.Len() < 100 {
			b.Fatalf("%d %d", w.Code, w.Body.Len())
		}
	}
}

// BenchmarkCRL10k measures a CRL of 10,000 revoked certificates.
func BenchmarkCRL10k(b *testing.B) {
	c, err := sharedCA()
	if err != nil {
		b.Fatal(err)
	}
	revoked := make([]Revoked, 10000)
	for i := range revoked {
		revoked[i] = Revoked{Serial: randomSerial(), At: time.Now(), Reason: ReasonSuperseded}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CRL(revoked); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCRLAgain10k measures a CRL of 10,000 revoked certificates asked
// for again with the list unchanged: its fingerprint, and no signature.
func BenchmarkCRLAgain10k(b *testing.B) {
	c, err := sharedCA()
	if err != nil {
		b.Fatal(err)
	}
	revoked := make([]Revoked, 10000)
	for i := range revoked {
		revoked[i] = Revoked{Serial: randomSerial(), At: time.Now(), Reason: ReasonSuperseded}
	}
	first, err := c.CRL(revoked)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if again, err := c.CRL(revoked); err != nil || &again[0] != &first[0] {
			b.Fatal("not the same CRL again", err)
		}
	}
}
