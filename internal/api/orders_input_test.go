package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

// orderCounts are the rows an apply writes; a refused apply writes none.
func orderCounts(f *fixture) string {
	f.T.Helper()
	c := f.Count(0)
	var orders, certs, credit int
	f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM orders`, &orders)
	f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM certificates`, &certs)
	f.Store.QueryRow(context.Background(), `SELECT COALESCE(SUM(credit_cents), 0) FROM accounts`, &credit)
	return strings.Join([]string{n(int64(orders)), n(int64(certs)), n(int64(credit)), n(int64(c.Emails)), n(int64(c.Deliveries))}, " ")
}

func csrWith(t *testing.T, tmpl *x509.CertificateRequest, key any) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// TestApplyRefusals: each bad request gets its documented code and
// message, and nothing is written (no order, certificate, charge or email).
func TestApplyRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	f.offer("shop.example.com")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edCSR := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}}, ed)
	good, _ := newCSR(t, "shop.example.com")
	wild := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "*.example.com"}}, ec)
	ipCN := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "192.0.2.1"}}, ec)
	noName := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"x"}}}, ec)
	small := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}}, rsa1024)
	p224 := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}}, ec224)
	// A signature that does not verify: one bit of the signature flipped.
	b, _ := pem.Decode([]byte(good))
	bad := append([]byte(nil), b.Bytes...)
	bad[len(bad)-3] ^= 1
	badSig := base64.StdEncoding.EncodeToString(bad)

	base := func(extra ...string) url.Values {
		v := f.as("product", "287", "serverSoftware", "-1", "csr", good, "responseFormat", "1")
		for i := 0; i < len(extra); i += 2 {
			if extra[i+1] == "" {
				v.Del(extra[i])
			} else {
				v.Set(extra[i], extra[i+1])
			}
		}
		return v
	}
	before := orderCounts(f)
	for _, c := range []struct {
		name  string
		form  url.Values
		code  string
		inMsg string
	}{
		{"unknown parameter", base("colour", "red"), "-2", "'colour' is an unrecognised argument!"},
		{"no product", base("product", ""), "-3", "'product'"},
		{"no serverSoftware", base("serverSoftware", ""), "-3", "'serverSoftware'"},
		{"no csr", base("csr", ""), "-3", "'csr'"},
		{"serverSoftware 37", base("serverSoftware", "37"), "-4", "'serverSoftware'"},
		{"bad uniqueValue", base("uniqueValue", "has space"), "-4", "'uniqueValue'"},
		{"bad dcvMethod", base("dcvMethod", "FAX"), "-4", "'dcvMethod'"},
		{"csr too long", base("csr", strings.Repeat("A", 32768)), "-4", "'csr'"},
		{"country", base("countryName", "XQ"), "-7", "'xq' is not a valid ISO-3166 country!"},
		{"bad login", base("loginPassword", "wrong"), "-16", "Incorrect login details"},
		{"not base64", base("csr", "not*base64!"), "-9", "The CSR is not valid Base-64 data!"},
		{"not a CSR", base("csr", "AAAA"), "-10", "The CSR cannot be decoded!"},
		{"bad signature", base("csr", badSig), "-12", "The CSR has an invalid signature!"},
		{"small RSA", base("csr", small), "-13", "The CSR uses an unsupported key size!"},
		{"Ed25519", base("csr", edCSR), "-11", "The CSR uses an unsupported algorithm!"},
		{"P-224", base("csr", p224), "-13", "The CSR uses an unsupported key size!"},
		{"no names", base("csr", noName), "-8", "The CSR is missing a required field!"},
		{"wildcard on single", base("csr", wild), "-5", "The CSR's Common Name may NOT contain a wildcard!"},
		{"single on wildcard", base("product", "289"), "-6", "The CSR's Common Name MUST contain ONE wildcard!"},
		{"IP CN", base("csr", ipCN), "-35", "The CSR's Common Name may not be an IP Address!"},
		{"unknown product", base("product", "999"), "-4", "'product'"},
		{"address not offered", base("dcvEmailAddress", "admin@other.example"), "-4", "'dcvEmailAddress'"},
	} {
		got := parseForm(t, f.Post(applyPath, c.form))
		if got.Get("errorCode") != c.code || !strings.Contains(got.Get("errorMessage"), c.inMsg) {
			t.Errorf("%s: %v, want %s %q", c.name, got, c.code, c.inMsg)
		}
	}
	if after := orderCounts(f); after != before {
		t.Fatalf("refused applies wrote rows: %s -> %s", before, after)
	}
	// Newline text, the default format: code, then message.
	body := f.Post(applyPath, base("responseFormat", "", "product", "999"))
	wantBody(t, body, "-4\nThe value of the 'product' argument is invalid!\n")
}

// TestApplyCreditAndCustomerPays: -15 when the price exceeds the credit
// (nothing charged or written), a charge when it fits, and status 1 when
// the customer pays; such an order awaits payment (-22 on CollectSSL).
func TestApplyCreditAndCustomerPays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	ctx := context.Background()
	acct, _ := f.Store.AccountByLogin(ctx, alice)
	if err := f.Store.Direct().SetBilling(ctx, acct.ID, model.Billing{Limited: true, CreditCents: 1500}); err != nil {
		t.Fatal(err)
	}
	csrPEM, _ := newCSR(t, "shop.example.com")
	apply := func(extra ...string) url.Values {
		return parseForm(t, f.Post(applyPath, f.as(append([]string{"product", "287", "serverSoftware", "-1", "csr", csrPEM, "responseFormat", "1"}, extra...)...)))
	}
	// 398 days asked for are capped by the policy at the fake clock's date
	// (199): one year, 10.00, which the credit covers.
	if got := apply("days", "398"); got.Get("errorCode") != "0" || got.Get("totalCost") != "10.00" {
		t.Fatalf("apply within the credit: %v", got)
	}
	before := orderCounts(f)
	wild, _ := newCSR(t, "*.example.com")
	got := parseForm(t, f.Post(applyPath, f.as("product", "489", "serverSoftware", "-1", "csr", wild, "responseFormat", "1")))
	if got.Get("errorCode") != "-15" || got.Get("errorMessage") != "Not enough credit!" {
		t.Fatalf("over the credit: %v", got)
	}
	if after := orderCounts(f); after != before {
		t.Fatalf("-15 wrote rows: %s -> %s", before, after)
	}
	b, _ := f.Store.BillingOf(ctx, acct.ID)
	if b.CreditCents != 500 {
		t.Fatalf("credit after one 10.00 order: %d cents", b.CreditCents)
	}
	f.Store.Direct().SetBilling(ctx, acct.ID, model.Billing{CustomerPays: true})
	got = apply("showCertificateID", "Y")
	if got.Get("errorCode") != "1" || got.Get("certificateID") == "" {
		t.Fatalf("customer pays: %v", got)
	}
	c := parseForm(t, f.Post(collectPath, f.as("orderNumber", got.Get("orderNumber"), "queryType", "0", "responseFormat", "1")))
	if c.Get("errorCode") != "-22" {
		t.Fatalf("collect of an unpaid order: %v", c)
	}
}

// TestIssuanceWaitsForCAA: a CAA record naming another CA keeps the order
// unissued with caaStatus 0 and the reason; once the record names us, the
// next CollectSSL issues it.
func TestIssuanceWaitsForCAA(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t, `example.org. CAA 0 issue "letsencrypt.org"`)
	f := newFixture(t, dcvtest.Options{HTTPListen: true, Resolvers: []string{dns.Addr()}, DNSRequireAD: "false"})
	csrPEM, _ := newCSR(t, "shop.example.org")
	f.Post(addressesPath, f.as("domainName", "shop.example.org"))
	got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM,
		"dcvEmailAddress", "admin@example.org", "responseFormat", "1")))
	if got.Get("errorCode") != "0" {
		t.Fatalf("apply: %v", got)
	}
	order := got.Get("orderNumber")
	var number int64
	for _, ch := range order {
		number = number*10 + int64(ch-'0')
	}
	f.confirm(number)
	c := parseForm(t, f.Post(collectPath, f.as("orderNumber", order, "queryType", "1", "showStatusDetails", "Y", "responseFormat", "1")))
	if c.Get("errorCode") != "0" || c.Get("caaStatus") != "0" || !strings.Contains(c.Get("caaDetail"), "forbidden") {
		t.Fatalf("collect under a forbidding CAA record: %v", c)
	}
	dns.Set("example.org.", 257, `example.org. CAA 0 issue "dcvmail.test"`)
	c = parseForm(t, f.Post(collectPath, f.as("orderNumber", order, "queryType", "1", "showStatusDetails", "Y", "responseFormat", "1")))
	if c.Get("errorCode") != "2" || c.Get("caaStatus") != "1" || c.Get("certificate") == "" {
		t.Fatalf("collect once CAA permits: %v", c)
	}
}

// TestIssuedOnceAcrossNodes: two servers on one database race to issue
// the same orders; each order is issued exactly once, and both nodes sign
// with the one CA kept in the database.
func TestIssuedOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	db := store.SQLiteURL(filepath.Join(t.TempDir(), "shared.db"))
	if os.Getenv(dcvtest.EnvBackend) == "postgres" {
		db = pgtest.URL(t)
	}
	a := &fixture{Env: dcvtest.Start(t, dcvtest.Options{DB: db, HTTPListen: true})}
	// The second node is given the first one's message key, as every node
	// of a cluster must be (docs/operations.md).
	bDir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(a.Dir, "message.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bDir, "message.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b := dcvtest.StartIn(t, bDir, dcvtest.Options{DB: db, HTTPListen: true})
	a.AddAccount(alice, alicePass, false)
	if a.DCV.Orders().CA.Root().Equal(b.DCV.Orders().CA.Root()) == false {
		t.Fatal("the two nodes use different CAs")
	}
	ctx := context.Background()
	for i := range 5 {
		// A name of its own each time: a validated name would be reused.
		csrPEM, _ := newCSR(t, "shop"+strconv.Itoa(i)+".example.com")
		got := parseForm(t, a.Post(applyPath, a.as("product", "287", "serverSoftware", "-1", "csr", csrPEM,
			"dcvMethod", "HTTP_CSR_HASH", "responseFormat", "1")))
		if got.Get("errorCode") != "0" {
			t.Fatalf("apply: %v", got)
		}
		number, _ := strconv.ParseInt(got.Get("orderNumber"), 10, 64)
		for _, d := range a.domains(number) {
			if err := a.Store.Direct().ValidateDomainNow(ctx, number, d.Position, a.Clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var issued atomic.Int32
		for i := range 8 {
			node := a.DCV
			if i%2 == 1 {
				node = b.DCV
			}
			wg.Go(func() {
				ok, err := node.TryIssue(ctx, number)
				if err != nil {
					t.Error(err)
				}
				if ok {
					issued.Add(1)
				}
			})
		}
		wg.Wait()
		certs, _ := a.Store.CertificatesOfOrder(ctx, number)
		if issued.Load() != 1 || len(certs) != 1 || certs[0].State != model.CertIssued {
			t.Fatalf("order %d: issued %d times, certificates %+v", number, issued.Load(), certs)
		}
	}
}

// TestApplyRaceForTheLastCredit: orders placed at once by an account whose
// credit pays for one: one is placed and charged, the others get -15 and
// write nothing. The charge is the order transaction's last statement (on
// PostgreSQL the account's row is then locked only for the commit), so
// every apply reads enough credit first and the charge alone decides.
func TestApplyRaceForTheLastCredit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true}) // PostgreSQL too: DCVMAIL_TEST_BACKEND
	ctx := context.Background()
	acct, _ := f.Store.AccountByLogin(ctx, alice)
	if err := f.Store.Direct().SetBilling(ctx, acct.ID, model.Billing{Limited: true, CreditCents: 1500}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := f.Store.QueryRow(ctx, `SELECT COUNT(*) FROM orders`, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	codes := make([]string, 8)
	var wg sync.WaitGroup
	for i := range codes {
		csrPEM, _ := newCSR(t, "race"+strconv.Itoa(i)+".example.com")
		wg.Go(func() {
			got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM, "responseFormat", "1")))
			codes[i] = got.Get("errorCode")
		})
	}
	wg.Wait()
	placed := 0
	for i, c := range codes {
		switch c {
		case "0":
			placed++
		case "-15":
		default:
			t.Fatalf("apply %d: errorCode %q", i, c)
		}
	}
	b, _ := f.Store.BillingOf(ctx, acct.ID)
	if orders := count() - before; placed != 1 || orders != 1 || b.CreditCents != 500 {
		t.Fatalf("%d placed, %d orders stored, %d cents left; want 1, 1, 500 (errorCodes %v)", placed, orders, b.CreditCents, codes)
	}
}
