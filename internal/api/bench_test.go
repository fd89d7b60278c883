package api_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

// benchHandler is the API handler over a fresh SQLite file with one account
// and one order whose DCV email was sent, and no resend limit to speak of.
func benchHandler(b *testing.B, opts ...accounts.Option) (http.Handler, string) {
	h, bodies := benchHandlerOn(b, store.SQLiteURL(filepath.Join(b.TempDir(), "bench.db")), 1, opts...)
	return h, bodies[0]
}

// benchHandlerOn is benchHandler on any database, with several orders.
func benchHandlerOn(b *testing.B, dbURL string, orders int, opts ...accounts.Option) (http.Handler, []string) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
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
	var bodies []string
	for range orders {
		order, err := svc.CreateOrder(ctx, dcv.NewOrder{Login: alice, Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, "loginName="+alice+"&loginPassword="+alicePass+"&orderNumber="+n(order))
	}
	h := api.New(api.Config{DCV: svc, Auth: accounts.NewAuthenticator(st, opts...), Log: slog.New(slog.DiscardHandler)})
	return h, bodies
}

func serveOnce(b *testing.B, h http.Handler, path, body, want string) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if got := w.Body.String(); got != want {
		b.Fatalf("answer %q, want %q", got, want)
	}
}

// BenchmarkResendDCVEmail measures a whole ResendDCVEmail through the HTTP
// handler: parsing, authentication, the durable transaction with its outbox
// row. Compare the sub-benchmarks for the credential cache's effect:
//
//	go test -run '^$' -bench ResendDCVEmail -benchtime 3s ./internal/api
func BenchmarkResendDCVEmail(b *testing.B) {
	b.Run("cache", func(b *testing.B) {
		h, body := benchHandler(b)
		b.ResetTimer()
		for b.Loop() {
			serveOnce(b, h, resendPath, body, "errorCode=0")
		}
	})
	b.Run("nocache", func(b *testing.B) {
		h, body := benchHandler(b, accounts.WithoutCache())
		b.ResetTimer()
		for b.Loop() {
			serveOnce(b, h, resendPath, body, "errorCode=0")
		}
	})
	// The parse and answer alone, for scale: an unknown parameter is refused
	// before authentication or the database.
	b.Run("refused-before-auth", func(b *testing.B) {
		h, _ := benchHandler(b)
		want := "errorCode=-2&errorMessage=%27x%27+is+an+unrecognised+argument%21&errorItem=x"
		for b.Loop() {
			serveOnce(b, h, resendPath, "x=1", want)
		}
	})
}

// BenchmarkResendDCVEmailParallel compares the back ends in one run: every
// goroutine resends its own order, so the database's concurrency shows.
//
//	go test -run '^$' -bench ResendDCVEmailParallel -benchtime 3s ./internal/api
func BenchmarkResendDCVEmailParallel(b *testing.B) {
	for _, backend := range []struct {
		name string
		url  func() string
	}{
		{"sqlite", func() string { return store.SQLiteURL(filepath.Join(b.TempDir(), "bench.db")) }},
		{"postgres", func() string { return pgtest.URL(b) }},
	} {
		b.Run(backend.name, func(b *testing.B) {
			h, bodies := benchHandlerOn(b, backend.url(), 64)
			var next atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				body := bodies[next.Add(1)%int64(len(bodies))]
				for pb.Next() {
					serveOnce(b, h, resendPath, body, "errorCode=0")
				}
			})
		})
	}
}
