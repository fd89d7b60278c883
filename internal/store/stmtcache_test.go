package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dcvmail/dcvmail/internal/store"
)

// TestReadsDoNotWatchTheirContext: on SQLite a read outside a transaction
// costs no more with a request's context, which can end, than with one
// that cannot (database/sql would otherwise start a goroutine and a
// context of its own to watch it on every query; stmtcache.go), and a
// context that has already ended still gets its error and no answer. Not
// parallel: testing.AllocsPerRun counts the whole process's allocations.
func TestReadsDoNotWatchTheirContext(t *testing.T) {
	s := open(t, store.SQLiteURL(filepath.Join(t.TempDir(), "reads.db")))
	acct := account(t, s, "reader")
	live, cancel := context.WithCancel(context.Background())
	defer cancel()
	allocs := func(ctx context.Context) float64 {
		return testing.AllocsPerRun(50, func() {
			st, err := s.LoginStateOf(ctx, acct.Login, "192.0.2.1", "login:reader", "source:192.0.2.1")
			if err != nil || !st.Known {
				t.Fatal(st, err)
			}
			if _, err := s.AccountByLogin(ctx, acct.Login); err != nil {
				t.Fatal(err)
			}
		})
	}
	if plain, watched := allocs(context.Background()), allocs(live); watched > plain {
		t.Errorf("two reads with a context that can end make %.0f allocations, %.0f more than with one that cannot: the context is watched", watched, watched-plain)
	}

	cancel()
	if _, err := s.LoginStateOf(live, acct.Login, "192.0.2.1"); !errors.Is(err, context.Canceled) {
		t.Errorf("a query with an ended context: %v, want context.Canceled", err)
	}
	if _, err := s.AccountByLogin(live, acct.Login); !errors.Is(err, context.Canceled) {
		t.Errorf("a one-row query with an ended context: %v, want context.Canceled", err)
	}
}
