package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crypto/tls"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// ordersBench is the API handler with the order life on, over a fresh
// SQLite file with one account.
func ordersBench(b *testing.B) (http.Handler, *dcv.Service, *store.Store, model.Account) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(b.TempDir(), "bench.db")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc, err := dcv.New(ctx, dcv.Config{Store: st, Finder: contacts.NewFinder(contacts.Config{}), PublicURL: "https://localhost:8443"})
	if err != nil {
		b.Fatal(err)
	}
	authority, err := ca.Open(ctx, st, ca.URLs("http://localhost:8080"))
	if err != nil {
		b.Fatal(err)
	}
	svc.EnableOrders(dcv.OrdersConfig{Catalog: catalog.Builtin(), CA: authority, Log: slog.New(slog.DiscardHandler)})
	hash, _ := accounts.HashPassword(alicePass, rand.Reader)
	acct, err := st.Direct().CreateAccount(ctx, model.Account{Login: alice, PasswordHash: hash, Created: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	return api.New(api.Config{DCV: svc, Auth: accounts.NewAuthenticator(st), Log: slog.New(slog.DiscardHandler)}), svc, st, acct
}

func benchCSR(b *testing.B) string { return benchCSRFor(b, "shop.example.com") }

func benchCSRFor(b *testing.B, name string) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func serveAnswer(b *testing.B, h http.Handler, path, body string) string {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Body.String()
}

// BenchmarkAutoApplySSL measures placing an order through the handler: the
// CSR's parse and checks, the catalogue, the credit and the order's
// transaction (no email: dcvMethod HTTP_CSR_HASH).
//
//	go test -run '^$' -bench 'AutoApplySSL|CollectSSL' -benchtime 3s ./internal/api
func BenchmarkAutoApplySSL(b *testing.B) {
	h, _, _, _ := ordersBench(b)
	body := url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "product": {"287"}, "serverSoftware": {"-1"},
		"csr": {benchCSR(b)}, "dcvMethod": {"HTTP_CSR_HASH"}, "responseFormat": {"1"}}.Encode()
	b.ResetTimer()
	for b.Loop() {
		if got := serveAnswer(b, h, applyPath, body); !strings.HasPrefix(got, "errorCode=0&") {
			b.Fatal(got)
		}
	}
}

// BenchmarkCollectSSL measures collecting an issued certificate with its
// chain (queryType 1, URL-encoded).
func BenchmarkCollectSSL(b *testing.B) {
	h, svc, st, acct := ordersBench(b)
	ctx := context.Background()
	res, err := svc.Apply(ctx, dcv.ApplyRequest{Account: acct, Product: 287, CSR: benchCSR(b), Method: "HTTP_CSR_HASH"})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []int{1, 2} {
		st.Direct().ValidateDomainNow(ctx, res.OrderNumber, p, time.Now())
	}
	if ok, err := svc.TryIssue(ctx, res.OrderNumber); !ok {
		b.Fatal(err)
	}
	body := url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "orderNumber": {n(res.OrderNumber)},
		"queryType": {"1"}, "responseFormat": {"1"}}.Encode()
	b.ResetTimer()
	for b.Loop() {
		if got := serveAnswer(b, h, collectPath, body); !strings.HasPrefix(got, "errorCode=2&") {
			b.Fatal(got)
		}
	}
}

// BenchmarkWriteDuringIssuance measures a small write (one setting, in a
// transaction of its own) while another goroutine issues certificates one
// after another, as when a reseller's replacements run beside everyone
// else's calls. On SQLite every write waits for the one writer's turn, so
// what an issuance does inside its transaction is what the write waits
// for. Each round places 200 orders, validates them, then issues them all
// while writing; it reports the writes' mean and 99th percentile and the
// issuances a second.
//
//	go test -run '^$' -bench WriteDuringIssuance -benchtime 5x ./internal/api
func BenchmarkWriteDuringIssuance(b *testing.B) {
	_, svc, st, acct := ordersBench(b)
	ctx := context.Background()
	const orders = 200
	var waits []time.Duration
	var issued int
	var issuing time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		// A name of each round's own, and all its orders placed before any
		// is validated: a validated name would be reused, and the order
		// issued at once by Apply.
		round++
		name := fmt.Sprintf("shop%d.example.com", round)
		numbers := make([]int64, orders)
		for i := range numbers {
			res, err := svc.Apply(ctx, dcv.ApplyRequest{Account: acct, Product: 287, CSR: benchCSRFor(b, name), Method: "HTTP_CSR_HASH"})
			if err != nil {
				b.Fatal(err)
			}
			numbers[i] = res.OrderNumber
		}
		for _, n := range numbers {
			o, err := st.OrderStateOf(ctx, n)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range o.Domains {
				if err := st.Direct().ValidateDomainNow(ctx, n, d.Position, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			for _, n := range numbers {
				if ok, err := svc.TryIssue(ctx, n); err != nil || !ok {
					done <- fmt.Errorf("order %d: issued %v, %v", n, ok, err)
					return
				}
			}
			done <- nil
		}()
		for running := true; running; {
			select {
			case err := <-done:
				if err != nil {
					b.Fatal(err)
				}
				running = false
			default:
				t0 := time.Now()
				if err := st.Tx(ctx, func(tx model.Tx) error { return tx.SetSetting(ctx, "bench", t0.String()) }); err != nil {
					b.Fatal(err)
				}
				waits = append(waits, time.Since(t0))
			}
		}
		issuing += time.Since(start)
		issued += orders
	}
	slices.Sort(waits)
	var sum time.Duration
	for _, w := range waits {
		sum += w
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(waits)), "µs/write")
	b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-µs/write")
	b.ReportMetric(float64(issued)/issuing.Seconds(), "issued/s")
}
