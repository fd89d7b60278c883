package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

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
	// Watched, the two reads make 17 more (database/sql's goroutine and
	// context, the driver's watch); a margin of 4 leaves room for whatever
	// else the process allocates meanwhile.
	if plain, watched := allocs(context.Background()), allocs(live); watched >= plain+4 {
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

// TestWatchedReadsStopWithTheirContext: the reads whose time grows with
// the data (a search of the built-in mailbox, the CRL's list) are still stopped when their
// caller gives up.
func TestWatchedReadsStopWithTheirContext(t *testing.T) {
	s := open(t, store.SQLiteURL(filepath.Join(t.TempDir(), "watched.db")))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.CountForever(ctx, true) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a read of a trillion rows answered")
		}
	case <-time.After(time.Minute):
		t.Fatal("a watched read went on after its context ended")
	}

	// The mailbox's search and the CRL's list are of them: they still make
	// the watch's allocations.
	live, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, read := range map[string]func(context.Context) error{
		"a mailbox search": func(ctx context.Context) error {
			_, _, err := s.MailboxPage(ctx, store.MailQuery{Limit: 10})
			return err
		},
		"the revoked certificates": func(ctx context.Context) error {
			_, err := s.RevokedCertificates(ctx)
			return err
		},
	} {
		allocs := func(ctx context.Context) float64 {
			return testing.AllocsPerRun(20, func() {
				if err := read(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
		if plain, watched := allocs(context.Background()), allocs(live); watched < plain+4 {
			t.Errorf("%s makes %.0f allocations with a context that can end and %.0f with one that cannot: it is not watched", name, watched, plain)
		}
	}
}
