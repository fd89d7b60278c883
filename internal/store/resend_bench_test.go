package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// BenchmarkResendStatements runs the statements of an identical resend
// (store.LockOrderState, SetOrderResend, Enqueue) in one transaction each,
// on SQLite, on orders picked at random: the store's share of a
// ResendDCVEmail, on a database of 1,000 orders and on one of 1,000,000
// (seeded first, about a minute; the messages are short here).
//
//	go test -run '^$' -bench 'ResendStatements/orders=1000$' -benchmem ./internal/store
//	go test -run '^$' -bench 'ResendStatements/orders=1000000$' -benchtime 100000x ./internal/store
func BenchmarkResendStatements(b *testing.B) {
	for _, orders := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprintf("orders=%d", orders), func(b *testing.B) { benchResend(b, orders) })
	}
}

func benchResend(b *testing.B, orders int) {
	ctx := context.Background()
	s, acct := benchStore(b)
	const first = 20_000_000
	for start := 0; start < orders; start += 10_000 {
		seeds := make([]store.SeedOrder, min(10_000, orders-start))
		for i := range seeds {
			seeds[i] = benchOrder(acct, int64(first+start+i), "t", "")
		}
		if _, err := s.SeedOrders(ctx, seeds); err != nil {
			b.Fatal(err)
		}
	}
	var next, seed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // batches of group commit, as under load
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pick := rand.New(rand.NewPCG(uint64(seed.Add(1)), 0))
		for pb.Next() {
			i := next.Add(1)
			n := int64(first + pick.IntN(orders))
			err := s.Tx(ctx, func(tx model.Tx) error {
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
