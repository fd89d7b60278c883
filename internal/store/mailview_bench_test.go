package store_test

import (
	"context"
	"testing"
)

// BenchmarkDeleteMail deletes 5,000 captured messages by ID in one
// statement (the mailbox API's DELETE with a list), IDs that no longer
// exist, so that each call binds and looks up the same list: its
// parameters' cost grew with their square on SQLite while they were
// written $n (dialect.numbered).
//
//	go test -run '^$' -bench DeleteMail ./internal/store
func BenchmarkDeleteMail(b *testing.B) {
	ctx := context.Background()
	s, _ := benchStore(b)
	ids := make([]int64, 5000)
	for i := range ids {
		ids[i] = int64(1_000_000 + i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if n, err := s.DeleteMail(ctx, ids); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
}
