package api_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/sps"
)

// TestOrderLifeThroughSPS: the whole life as a Go integration sees it,
// through the public client: address list, apply, the email and the page,
// collect and verify, replace, revoke, and openssl ocsp saying revoked.
func TestOrderLifeThroughSPS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	ctx := context.Background()
	c := &sps.Client{BaseURL: f.Server.URL(), LoginName: alice, LoginPassword: alicePass, HTTPClient: f.Client}
	list, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "shop.example.com"})
	if err != nil || !strings.Contains(strings.Join(list.Emails(), " "), "admin@example.com") {
		t.Fatalf("address list: %v %+v", err, list)
	}
	csrPEM, _ := newCSR(t, "shop.example.com")
	order, err := c.ApplySSL(ctx, sps.ApplySSLRequest{Product: 287, Days: 90, CSR: csrPEM, DCVEmailAddress: "admin@example.com"})
	if err != nil || order.OrderNumber == 0 || order.CertificateID == 0 || order.TotalCost != "10.00" {
		t.Fatalf("apply: %v %+v", err, order)
	}
	if got, err := c.CollectSSL(ctx, sps.CollectSSLRequest{OrderNumber: order.OrderNumber, QueryType: 1}); err != nil || got.Status != 0 {
		t.Fatalf("collect before DCV: %v %+v", err, got)
	}
	f.confirm(order.OrderNumber)
	got, err := c.CollectSSL(ctx, sps.CollectSSLRequest{OrderNumber: order.OrderNumber, QueryType: 1})
	if err != nil || got.Status != 2 || len(got.CACertificates) != 2 {
		t.Fatalf("collect: %v %+v", err, got)
	}
	leaf, _ := x509.ParseCertificate(got.Certificate)
	root, _ := x509.ParseCertificate(got.CACertificates[0])
	inter, _ := x509.ParseCertificate(got.CACertificates[1])
	if !got.NotBefore.Equal(leaf.NotBefore) || !got.NotAfter.Equal(leaf.NotAfter) {
		t.Fatalf("validity %v-%v, certificate %v-%v", got.NotBefore, got.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	opensslVerify(t, f, []*x509.Certificate{root, inter}, leaf)

	newID, err := c.ReplaceSSL(ctx, order.OrderNumber, "", "")
	if err != nil || newID == order.CertificateID {
		t.Fatalf("replace: %v %d", err, newID)
	}
	replaced, err := c.CollectSSL(ctx, sps.CollectSSLRequest{CertificateID: newID, QueryType: 2})
	if err != nil || replaced.Status != 2 {
		t.Fatalf("collect the replacement: %v %+v", err, replaced)
	}
	second, _ := x509.ParseCertificate(replaced.Certificate)

	if err := c.RevokeSSL(ctx, sps.RevokeSSLRequest{OrderNumber: order.OrderNumber, CodeReason: 4}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	var apiErr *sps.Error
	if _, err := c.CollectSSL(ctx, sps.CollectSSLRequest{OrderNumber: order.OrderNumber, QueryType: 1}); !errors.As(err, &apiErr) || apiErr.Code != -21 {
		t.Fatalf("collect after revocation: %v", err)
	}
	for _, cert := range []*x509.Certificate{leaf, second} {
		opensslOCSPRevoked(t, root, inter, cert)
	}
}

// opensslOCSPRevoked asks the responder with openssl ocsp and wants
// "revoked".
func opensslOCSPRevoked(t *testing.T, root, inter, leaf *x509.Certificate) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("no openssl: skipping openssl ocsp")
		return
	}
	dir := t.TempDir()
	write := func(name string, c *x509.Certificate) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600)
		return p
	}
	out, err := exec.Command(bin, "ocsp", "-issuer", write("inter.pem", inter), "-cert", write("leaf.pem", leaf),
		"-url", leaf.OCSPServer[0], "-CAfile", write("root.pem", root), "-no_nonce",
		// The server's clock is the test's fake one, days from the real.
		"-validity_period", "8640000").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Response verify OK") || !strings.Contains(string(out), "leaf.pem: revoked") {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
}
