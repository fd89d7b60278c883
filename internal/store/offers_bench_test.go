package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// BenchmarkRecordOffers writes what GetDCVEmailAddressList calls offer
// again, each address offered before and now a moment later: ten
// addresses of a name (a call's usual list) and 500 (a statement's most,
// as when the offer batch merges calls). The calls of an iteration share
// one transaction, so that the upserts and not the commits are measured
// (BENCHMARKS.md).
//
//	go test -run '^$' -bench RecordOffers -benchmem ./internal/store
func BenchmarkRecordOffers(b *testing.B) {
	for _, perCall := range []int{10, 500} {
		b.Run(fmt.Sprintf("offers=%d", perCall), func(b *testing.B) {
			ctx := context.Background()
			s, acct := benchStore(b)
			const names = 200
			offersOf := func(name int, at time.Time) []model.Offer {
				fqdn := fmt.Sprintf("n%d.example.com", name)
				offers := make([]model.Offer, perCall)
				for i := range offers {
					offers[i] = model.Offer{AccountID: acct.ID, FQDN: fqdn, Mailbox: fmt.Sprintf("m%d@%s", i, fqdn), Source: model.SourceConstructed, At: at}
				}
				return offers
			}
			for n := range names {
				if err := s.RecordOffers(ctx, offersOf(n, t0)); err != nil {
					b.Fatal(err)
				}
			}
			calls := 0
			perTx := max(1, 1000/perCall)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				batch := make([][]model.Offer, perTx)
				for i := range batch {
					calls++
					batch[i] = offersOf(calls%names, t0.Add(time.Duration(calls)*time.Millisecond))
				}
				if err := s.RecordOffersTogether(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls*perCall), "ns/offer")
		})
	}
}
