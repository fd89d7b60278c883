package store_test

import (
	"context"
	"testing"

	"github.com/dcvmail/dcvmail/internal/model"
)

// BenchmarkLoginStateOf reads what every API call's login checks first
// (accounts.Lockout): the account, its known source, and the failure
// counts of the login name, of the pair and of the source, none of which
// exist, as on an account in good standing (BENCHMARKS.md).
//
//	go test -run '^$' -bench LoginStateOf ./internal/store
func BenchmarkLoginStateOf(b *testing.B) {
	// A context that can end, as a request's can (stmtcache.go).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, acct := benchStore(b)
	if err := s.RecordLoginSource(ctx, acct.ID, "192.0.2.1", t0); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CountLoginFailures(ctx, []model.LoginSubject{{Subject: "source:198.51.100.7", Label: "198.51.100.7"}}, t0, t0.Add(-1)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := s.LoginStateOf(ctx, acct.Login, "192.0.2.1", "login:bench", "pair:bench 192.0.2.1", "source:192.0.2.1")
		if err != nil || !st.Known || st.KnownSince.IsZero() || len(st.Failures) != 0 {
			b.Fatal(st, err)
		}
	}
}
