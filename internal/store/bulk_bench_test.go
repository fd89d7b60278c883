package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// BenchmarkSeedOrders measures the bulk load that `dcvmail bench` fills its
// large database with: orders of one domain, each with a rendered email of
// about 3 KB (the built-in template's size) and its delivery.
//
//	go test -run '^$' -bench SeedOrders -benchmem ./internal/store
func BenchmarkSeedOrders(b *testing.B) {
	s, acct := benchStore(b)
	text := strings.Repeat("DCV email body line of text for the benchmark. ", 30)
	html := strings.Repeat("<p>DCV email body line of html for the benchmark.</p>", 30)
	const chunk = 10_000
	next := int64(30_000_000)
	b.ReportAllocs()
	for b.Loop() {
		seeds := make([]store.SeedOrder, chunk)
		for i := range seeds {
			seeds[i] = benchOrder(acct, next, text, html)
			next++
		}
		if _, err := s.SeedOrders(context.Background(), seeds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N*chunk)*1e6, "µs/order")
}

// benchStore is a migrated SQLite database with one account, for the
// store's benchmarks.
func benchStore(b *testing.B) (*store.Store, model.Account) {
	b.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, store.SQLiteURL(filepath.Join(b.TempDir(), "bench.db")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	acct, err := s.Direct().CreateAccount(ctx, model.Account{Login: "bench", PasswordHash: "h", Created: t0})
	if err != nil {
		b.Fatal(err)
	}
	return s, acct
}

// benchOrder is order number n of acct with one domain and its first DCV
// email, delivered, as `dcvmail bench` seeds them.
func benchOrder(acct model.Account, n int64, text, html string) store.SeedOrder {
	fqdn := fmt.Sprintf("o%d.example.com", n)
	return store.SeedOrder{
		Order:   model.Order{Number: n, AccountID: acct.ID, BaseNumber: n, Status: model.OrderActive, Created: t0},
		Domains: []model.Domain{{Position: 1, Name: fqdn, FQDN: fqdn, Method: model.MethodEmail, Recipient: "admin@" + fqdn, Source: "constructed"}},
		Email: model.Email{Recipient: "admin@" + fqdn, CodeHash: fmt.Sprintf("%064d", n), Subject: "Domain Control Validation for " + fqdn,
			Text: text, HTML: html, Created: t0, Expires: t0.Add(time.Hour)},
		MessageID: fmt.Sprintf("%d@bench", n),
	}
}
