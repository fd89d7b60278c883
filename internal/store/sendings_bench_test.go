package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// BenchmarkOrderDeliveries reads an order's domain and the delivery
// summary of its live email, what every GetMDCDomainDetails asks, after
// the email has had 1 and 100 deliveries, each attempted once: what grows
// with the deliveries is the walk of the outbox's index by email for the
// newest attempt (BENCHMARKS.md).
//
//	go test -run '^$' -bench OrderDeliveries ./internal/store
func BenchmarkOrderDeliveries(b *testing.B) {
	for _, deliveries := range []int{1, 100} {
		b.Run(fmt.Sprintf("deliveries=%d", deliveries), func(b *testing.B) {
			ctx := context.Background()
			s, acct := benchStore(b)
			email := order(b, s, acct, 1, 1)
			for i := range deliveries {
				at := t0.Add(time.Duration(i) * time.Second)
				id, err := s.Direct().Enqueue(ctx, email, "admin@example.com", fmt.Sprintf("m%d@bench", i), at)
				if err != nil {
					b.Fatal(err)
				}
				if claimed, err := s.Claim(ctx, "w", at, time.Minute, 1); err != nil || len(claimed) != 1 {
					b.Fatal(claimed, err)
				}
				if ok, err := s.Direct().FinishAttempt(ctx, "w", model.Attempt{DeliveryID: id, At: at, Outcome: model.OutcomeSent, Reply: "250 ok"}, at); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, got, err := s.OrderDeliveries(ctx, acct.ID, 1)
				if err != nil || got[email].Last.DeliveryID == 0 {
					b.Fatal(got, err)
				}
			}
		})
	}
}
