package faults_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/faults"
	"github.com/dcvmail/dcvmail/internal/store"
)

func openSet(b *testing.B) *faults.Set {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.ToSlash(filepath.Join(b.TempDir(), "db")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	s, err := faults.New(ctx, st, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// What every API request pays for fault rules: with test controls and no
// rule, and without test controls (a nil Set).
func BenchmarkActive(b *testing.B) {
	b.Run("no-rules", func(b *testing.B) {
		s := openSet(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if s.Active() {
					b.Fatal("active without rules")
				}
			}
		})
	})
	b.Run("off", func(b *testing.B) {
		var s *faults.Set
		b.ReportAllocs()
		for b.Loop() {
			if s.Active() {
				b.Fatal("a nil set is active")
			}
		}
	})
}
