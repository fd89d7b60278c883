package clientcmd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// TestOrderSubcommands: apply, collect, replace and revoke against a real
// server.
func TestOrderSubcommands(t *testing.T) {
	t.Parallel()
	srv := dcvtest.Start(t, dcvtest.Options{HTTPListen: true})
	srv.AddAccount("login_name", password, false)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "shop.example.com"}}, key)
	csrFile := filepath.Join(t.TempDir(), "shop.csr")
	os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600)
	base := []string{"--url", srv.Server.URL(), "--login", "login_name", "--ca", filepath.Join(srv.Dir, "tls-cert.pem")}
	cli := func(args ...string) result {
		return run("", withPassword, append(append([]string{args[0]}, base...), args[1:]...)...)
	}

	r := cli("apply", "--product", "287", "--csr", csrFile, "--method", "HTTP_CSR_HASH")
	m := regexp.MustCompile(`^Order (\d+) placed: certificateID (\d+), cost 10\.00\.\n$`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("apply: %+v", r)
	}
	order, _ := strconv.ParseInt(m[1], 10, 64)
	if r := cli("collect", "--order", m[1]); r.code != 0 || r.stdout != "Not issued yet (status 0).\n" {
		t.Fatalf("collect before DCV: %+v", r)
	}
	ctx := context.Background()
	for _, p := range []int{1, 2} {
		srv.Store.Direct().ValidateDomainNow(ctx, order, p, srv.Clock.Now())
	}
	r = cli("collect", "--order", m[1])
	if r.code != 0 || strings.Count(r.stdout, "BEGIN CERTIFICATE") != 3 {
		t.Fatalf("collect: %+v", r)
	}
	if r := cli("replace", "--order", m[1]); r.code != 0 || !strings.HasPrefix(r.stdout, "Replacement requested for order "+m[1]) {
		t.Fatalf("replace: %+v", r)
	}
	if r := cli("revoke", "--order", m[1], "--reason", "4"); r.code != 0 || r.stdout != "Revoked.\n" {
		t.Fatalf("revoke: %+v", r)
	}
	if r := cli("collect", "--order", m[1]); r.code != 1 || !strings.Contains(r.stderr, "-21") {
		t.Fatalf("collect after revocation: %+v", r)
	}
}
