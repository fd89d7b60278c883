package contacts

import (
	"context"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/miekg/dns"
)

// BenchmarkFindParallel measures one Find for a.b.example.com (3 ADNs: 3
// TXT lookups and a 4-level CAA climb) against 3 resolvers whose every
// answer is delayed by 20ms, and reports the ratio of its duration to that
// of a single lookup ("find/lookup"; 1 is ideal, the target is at most 1.2).
//
//	go test -run '^$' -bench BenchmarkFindParallel -benchtime 50x ./internal/contacts/
func BenchmarkFindParallel(b *testing.B) {
	const delay = 20 * time.Millisecond
	var servers []*dnstest.Server
	for range 3 {
		s := dnstest.Start(b,
			txtRR("example.com", `"base@example.net"`),
			txtRR("b.example.com", `"mid@example.net"`),
			txtRR("a.b.example.com", `"leaf@example.net"`),
			`example.com. CAA 0 contactemail "caa@example.net"`,
		)
		s.SetDelay(delay)
		servers = append(servers, s)
	}
	f := finder(Config{}, servers...)
	ctx := context.Background()

	const samples = 10
	var single time.Duration
	for range samples {
		start := time.Now()
		if _, err := f.resolve(ctx, servers[0].Addr(), TXTPrefix+".example.com", dns.TypeTXT); err != nil {
			b.Fatal(err)
		}
		single += time.Since(start)
	}
	single /= samples

	n := 0
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		l, err := f.Find(ctx, "a.b.example.com")
		total += time.Since(start)
		n++
		if err != nil || len(l.TXT) != 3 || len(l.CAA) != 1 || l.Warnings != nil {
			b.Fatalf("Find: %+v, %v", l, err)
		}
	}
	perFind := total / time.Duration(n)
	b.ReportMetric(float64(single.Microseconds())/1000, "lookup-ms")
	b.ReportMetric(float64(perFind.Microseconds())/1000, "find-ms")
	b.ReportMetric(float64(perFind)/float64(single), "find/lookup")
}
