package store_test

import (
	"context"
	"fmt"
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
	s, acct := benchStore(b)
	const orders = 1000
	seeds := make([]store.SeedOrder, orders)
	for i := range seeds {
		seeds[i] = benchOrder(acct, int64(20_000_000+i), "t", "")
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
