package api_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// BenchmarkFirstLoginUnderHTTPFlood is issue 16's measurement through the
// API over TLS: 256 keep-alive connections from one source (198.51.100.66,
// set by X-Forwarded-For through a trusted proxy) post ResendDCVEmail with
// wrong passwords without pause, while a first login (a new TLS connection,
// its own source, no cached credential: the credential cache is off) posts
// the right one. "lockout=off" is the worst case, every wrong password
// costs an argon2id run; "lockout=on" has DefaultLockoutPolicy, which locks
// the flooding source within its first 100 failures, after which its
// attempts are refused (the refusal path's cost is what remains). Reports
// the first login's p50 and p99, and the flood's answers a second.
//
//	go test ./internal/api -run '^$' -bench FirstLoginUnderHTTPFlood -benchtime 40x
func BenchmarkFirstLoginUnderHTTPFlood(b *testing.B) {
	for _, lock := range []bool{false, true} {
		name := "lockout=off"
		if lock {
			name = "lockout=on"
		}
		b.Run(name, func(b *testing.B) { benchHTTPFlood(b, lock) })
	}
}

func benchHTTPFlood(b *testing.B, lock bool) {
	srv, body := floodServer(b, lock)
	post := func(c *http.Client, ctx context.Context, from, form string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+resendPath, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		return string(got), err
	}
	floodTr := srv.Client().Transport.(*http.Transport).Clone()
	floodTr.MaxIdleConnsPerHost = 256
	defer floodTr.CloseIdleConnections()
	flooder := &http.Client{Transport: floodTr}
	flood, stop := context.WithCancel(context.Background())
	var answers atomic.Int64
	var wg sync.WaitGroup
	wrong := strings.Replace(body, alicePass, "wrong-password", 1)
	for range 256 {
		wg.Go(func() {
			for flood.Err() == nil {
				if _, err := post(flooder, flood, "198.51.100.66", wrong); err == nil {
					answers.Add(1)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // the flood's connections are open, its queue full (and locked, with lockout)
	cleanTr := srv.Client().Transport.(*http.Transport).Clone()
	cleanTr.DisableKeepAlives = true // every first login opens its own TLS connection
	clean := &http.Client{Transport: cleanTr}
	lat := make([]time.Duration, 0, b.N)
	n0, t0 := answers.Load(), time.Now()
	b.ResetTimer()
	for i := range b.N {
		from := netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i%250)}).String()
		start := time.Now()
		got, err := post(clean, context.Background(), from, body)
		if err != nil || !strings.HasPrefix(got, "errorCode=0") {
			b.Fatalf("first login from %s: %q, %v", from, got, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	rate := float64(answers.Load()-n0) / time.Since(t0).Seconds()
	stop()
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(rate, "flood-answers/s")
	b.ReportMetric(0, "ns/op")
}

// floodServer is the API over TLS on a fresh SQLite file with alice and one
// order of hers, trusting X-Forwarded-For from loopback, without the
// credential cache, and with the default lockout when lock is set. body is
// a ResendDCVEmail of the order with alice's right password.
func floodServer(b *testing.B, lock bool) (*httptest.Server, string) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(b.TempDir(), "flood.db")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	policy := dcv.DefaultPolicy
	policy.ResendBurst = 1 << 30
	svc, err := dcv.New(ctx, dcv.Config{Store: st, Policy: policy, Finder: contacts.NewFinder(contacts.Config{}), PublicURL: "https://localhost:8443"})
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := accounts.HashPassword(alicePass, rand.Reader)
	if _, err := st.Direct().CreateAccount(ctx, model.Account{Login: alice, PasswordHash: hash, Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	order, err := svc.CreateOrder(ctx, dcv.NewOrder{Login: alice, Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	opts := []accounts.Option{accounts.WithoutCache()}
	if lock {
		lo, err := accounts.NewLockout(ctx, st, accounts.DefaultLockoutPolicy, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, accounts.WithLockout(lo))
	}
	h := api.New(api.Config{DCV: svc, Auth: accounts.NewAuthenticator(st, opts...), Log: slog.New(slog.DiscardHandler),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewTLSServer(h)
	b.Cleanup(srv.Close)
	return srv, "loginName=" + alice + "&loginPassword=" + alicePass + "&orderNumber=" + n(order)
}
