package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// BenchmarkResendStatements runs the statements of an identical resend
// (store.LockOrderState, SetOrderResend, Enqueue) in one transaction each,
// on SQLite, over 1,000 orders: the store's share of a ResendDCVEmail.
//
//	go test -run '^$' -bench ResendStatements -benchmem ./internal/store
func BenchmarkResendStatements(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.SQLiteURL(filepath.Join(b.TempDir(), "resend.db")))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	acct, err := s.CreateAccount(ctx, store.Account{Login: "bench", PasswordHash: "h", Created: t0})
	if err != nil {
		b.Fatal(err)
	}
	const orders = 1000
	seeds := make([]store.SeedOrder, orders)
	for i := range seeds {
		n := int64(20_000_000 + i)
		fqdn := fmt.Sprintf("o%d.example.com", n)
		seeds[i] = store.SeedOrder{
			Order:   store.Order{Number: n, AccountID: acct.ID, BaseNumber: n, Status: store.OrderActive, Created: t0},
			Domains: []store.Domain{{Position: 1, Name: fqdn, FQDN: fqdn, Method: store.MethodEmail, Recipient: "admin@" + fqdn, Source: "constructed"}},
			Email: store.Email{Recipient: "admin@" + fqdn, CodeHash: fmt.Sprintf("%064d", n), Subject: "s", Text: "t",
				Created: t0, Expires: t0.Add(time.Hour)},
			MessageID: fmt.Sprintf("%d@bench", n),
		}
	}
	if _, err := s.SeedOrders(ctx, seeds); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // batches of group commit, as under load
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			n := 20_000_000 + i%orders
			err := s.Tx(ctx, func(tx *store.Tx) error {
				st, err := tx.LockOrderState(ctx, acct.ID, n)
				if err != nil {
					return err
				}
				if err := tx.SetOrderResend(ctx, n, 0, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
					return err
				}
				e := st.Live[st.Domains[0].CurrentEmailID]
				_, err = tx.Enqueue(ctx, e.ID, e.Recipient, fmt.Sprintf("m%d@bench", i), t0)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
