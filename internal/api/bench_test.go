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
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/store"
)

// benchHandler is the API handler over a fresh SQLite file with one account
// and one order whose DCV email was sent, and no resend limit to speak of.
func benchHandler(b *testing.B, opts ...accounts.Option) (http.Handler, string) {
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
	policy := dcv.DefaultPolicy
	policy.ResendBurst = 1 << 30
	svc, err := dcv.New(ctx, dcv.Config{Store: st, Policy: policy, Finder: contacts.NewFinder(contacts.Config{}), PublicURL: "https://localhost:8443"})
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := accounts.HashPassword(alicePass, rand.Reader)
	if _, err := st.CreateAccount(ctx, store.Account{Login: alice, PasswordHash: hash, Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	order, err := svc.CreateOrder(ctx, dcv.NewOrder{Login: alice, Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Config{DCV: svc, Auth: accounts.NewAuthenticator(st, opts...), Log: slog.New(slog.DiscardHandler)})
	return h, "loginName=" + alice + "&loginPassword=" + alicePass + "&orderNumber=" + n(order)
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
