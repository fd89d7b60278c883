package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/pgtest"
)

// startOrderServer starts a server that takes orders (the plain listener
// on), and returns the environment that points admin commands at its
// database.
func startOrderServer(t *testing.T) (*dcvtest.Env, map[string]string) {
	t.Helper()
	o := dcvtest.Options{HTTPListen: true}
	env := map[string]string{}
	if os.Getenv(dcvtest.EnvBackend) == "postgres" {
		o.DB = pgtest.URL(t)
		env["DCVMAIL_DB"] = o.DB
	}
	srv := dcvtest.Start(t, o)
	if o.DB == "" {
		env["DCVMAIL_DATA"] = srv.Dir
	}
	return srv, env
}

// TestCAExportAndOrderShow: `ca export` prints the root the server signs
// under (no key), and `order show` lists an issued order's certificate with
// its serial and, once revoked, the revocation.
func TestCAExportAndOrderShow(t *testing.T) {
	t.Parallel()
	srv, env := startOrderServer(t)
	acct := srv.AddAccount("alice", "alice-secret-pass", false)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "shop.example.com"}}, key)
	ctx := context.Background()
	res, err := srv.DCV.Apply(ctx, dcv.ApplyRequest{Account: acct, Product: 287, Method: "HTTP_CSR_HASH",
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{1, 2} {
		if err := srv.Store.Direct().ValidateDomainNow(ctx, res.OrderNumber, d, srv.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := srv.DCV.TryIssue(ctx, res.OrderNumber); !ok || err != nil {
		t.Fatalf("issue: %v %v", ok, err)
	}

	r := runCLI(t, "", env, "ca", "export")
	if r.code != 0 || strings.Contains(r.stdout, "PRIVATE") {
		t.Fatalf("ca export: %+v", r)
	}
	b, _ := pem.Decode([]byte(r.stdout))
	if b == nil || string(b.Bytes) != string(srv.DCV.Orders().CA.Root().Raw) {
		t.Fatalf("ca export is not the root: %q", r.stdout)
	}

	if err := srv.DCV.Revoke(ctx, dcv.RevokeRequest{Account: acct, OrderNumber: res.OrderNumber, Reason: 4}); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "", env, "order", "show", strconv.FormatInt(res.OrderNumber, 10), "--json")
	var v dcv.OrderView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || len(v.Certificates) != 1 {
		t.Fatalf("order show --json: %v %+v", err, r)
	}
	c := v.Certificates[0]
	if c.Serial == "" || c.State != "issued" || c.Revoked == nil || c.Reason != 4 || v.Product != 287 {
		t.Fatalf("certificate: %+v", c)
	}
	r = runCLI(t, "", env, "order", "show", strconv.FormatInt(res.OrderNumber, 10))
	if !strings.Contains(r.stdout, c.Serial) || !strings.Contains(r.stdout, "(reason 4)") {
		t.Fatalf("order show: %s", r.stdout)
	}
}

// TestOrderValidateIssues: the operator's organization mark issues an OV
// order whose names are validated, signing with the CA serve keeps.
func TestOrderValidateIssues(t *testing.T) {
	t.Parallel()
	srv, env := startOrderServer(t)
	acct := srv.AddAccount("alice", "alice-secret-pass", false)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "shop.example.com",
		Organization: []string{"Example Ltd"}, Locality: []string{"London"}, Country: []string{"GB"}}}, key)
	ctx := context.Background()
	res, err := srv.DCV.Apply(ctx, dcv.ApplyRequest{Account: acct, Product: 24, Method: "HTTP_CSR_HASH",
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	if err != nil {
		t.Fatal(err)
	}
	number := strconv.FormatInt(res.OrderNumber, 10)
	if r := runCLI(t, "", env, "order", "validate", number); r.code != ExitUsage {
		t.Fatalf("without --organization: %+v", r)
	}
	r := runCLI(t, "", env, "order", "validate", number, "--organization")
	if r.code != 0 || !strings.Contains(r.stdout, "not issued yet") {
		t.Fatalf("names not validated: %+v", r)
	}
	if r := runCLI(t, "", env, "order", "validate", number, "--domain", "nosuch.example.com"); r.code != 1 {
		t.Fatalf("unknown domain: %+v", r)
	}
	r = runCLI(t, "", env, "order", "validate", number, "--domain", "shop.example.com", "--domain", "www.shop.example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "certificate issued") {
		t.Fatalf("order validate: %+v", r)
	}
	certs, _ := srv.Store.CertificatesOfOrder(ctx, res.OrderNumber)
	leaf, err := x509.ParseCertificate(certs[0].DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(srv.DCV.Orders().CA.Issuer()); err != nil {
		t.Fatalf("signed by another CA than serve's: %v", err)
	}
}
