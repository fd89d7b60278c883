package store_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// issue 7: failed logins are counted per subject in a window, a lock is set
// once however many nodes race to set it, its end is reported once, and
// old counts are pruned.
func TestLoginFailures(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const window = 15 * time.Minute
		subjects := []model.LoginSubject{{Subject: "login:aa", Label: "alice"}, {Subject: "source:192.0.2.1", Label: "192.0.2.1"}}
		count := func(at time.Time) []model.LoginFailures {
			t.Helper()
			got, err := s.CountLoginFailures(ctx, subjects, at, at.Add(-window))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Subject != "login:aa" || got[1].Subject != "source:192.0.2.1" {
				t.Fatalf("counts %+v", got)
			}
			return got
		}
		if got, err := failuresOf(s, "login:aa", "source:192.0.2.1"); err != nil || len(got) != 0 {
			t.Fatalf("before any failure: %+v %v", got, err)
		}
		for i := 1; i <= 3; i++ {
			got := count(t0.Add(time.Duration(i) * time.Minute))
			if got[0].Failures != i || !got[0].WindowStart.Equal(t0.Add(time.Minute)) || got[0].Label != "alice" || !got[0].LockedUntil.IsZero() {
				t.Fatalf("failure %d: %+v", i, got[0])
			}
		}
		// The window started at t0+1m; at t0+16m it is over and counting
		// starts again.
		if got := count(t0.Add(16 * time.Minute)); got[0].Failures != 1 || !got[0].WindowStart.Equal(t0.Add(16*time.Minute)) {
			t.Fatalf("after the window: %+v", got[0])
		}
		count(t0.Add(17 * time.Minute))

		// Below the threshold nothing is locked.
		if ok, err := s.LockLogin(ctx, "login:aa", 3, t0.Add(17*time.Minute), t0.Add(32*time.Minute)); ok || err != nil {
			t.Fatalf("lock below threshold: %v %v", ok, err)
		}
		// At it, one of several racing callers sets the lock.
		var wg sync.WaitGroup
		var mu sync.Mutex
		set := 0
		for range 4 {
			wg.Go(func() {
				ok, err := s.LockLogin(ctx, "login:aa", 2, t0.Add(17*time.Minute), t0.Add(32*time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					set++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if set != 1 {
			t.Fatalf("%d callers set the lock, want 1", set)
		}
		got, err := failuresOf(s, "login:aa")
		if err != nil || len(got) != 1 || got[0].Failures != 0 || !got[0].LockedUntil.Equal(t0.Add(32*time.Minute)) {
			t.Fatalf("locked row %+v %v", got, err)
		}

		// Before its end the lock is not reported; after it, once.
		if ended, err := s.EndLoginLocks(ctx, t0.Add(31*time.Minute)); err != nil || len(ended) != 0 {
			t.Fatalf("ended early: %+v %v", ended, err)
		}
		ended, err := s.EndLoginLocks(ctx, t0.Add(40*time.Minute))
		if err != nil || len(ended) != 1 || ended[0].Subject != "login:aa" || !ended[0].LockedUntil.Equal(t0.Add(32*time.Minute)) {
			t.Fatalf("ended %+v %v", ended, err)
		}
		if again, err := s.EndLoginLocks(ctx, t0.Add(40*time.Minute)); err != nil || len(again) != 0 {
			t.Fatalf("ended twice: %+v %v", again, err)
		}

		// Pruning removes counts whose window is over and that hold no lock.
		if _, err := s.CountLoginFailures(ctx, []model.LoginSubject{{Subject: "source:198.51.100.7"}}, t0.Add(39*time.Minute), t0.Add(24*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.LockLogin(ctx, "source:198.51.100.7", 1, t0.Add(39*time.Minute), t0.Add(99*time.Minute)); !ok || err != nil {
			t.Fatalf("lock: %v %v", ok, err)
		}
		n, err := s.PruneLoginFailures(ctx, t0.Add(40*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d, want 2 (login:aa and source:192.0.2.1): %v", n, err)
		}
		left, err := failuresOf(s, "login:aa", "source:192.0.2.1", "source:198.51.100.7")
		if err != nil || len(left) != 1 || left[0].Subject != "source:198.51.100.7" {
			t.Fatalf("left after pruning: %+v %v", left, err)
		}
	})
}

// failuresOf reads the counts of subjects (no login name is an account's "").
func failuresOf(s *store.Store, subjects ...string) ([]model.LoginFailures, error) {
	st, err := s.LoginStateOf(context.Background(), "", "", subjects...)
	return st.Failures, err
}

// LoginStateOf reads the account of a login name and the counts of the
// subjects in one statement, whichever of them exist.
func TestLoginStateOf(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		if _, err := s.CountLoginFailures(ctx, []model.LoginSubject{{Subject: "login:aa", Label: "alice"}, {Subject: "source:192.0.2.1", Label: "192.0.2.1"}},
			t0, t0.Add(-15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			login    string
			subjects []string
			known    bool
			failures string
		}{
			{"alice", []string{"login:aa", "source:192.0.2.1"}, true, "[login:aa source:192.0.2.1]"},
			{"alice", []string{"login:bb", "source:192.0.2.1"}, true, "[source:192.0.2.1]"},
			{"alice", []string{"login:bb"}, true, "[]"},
			{"alice", nil, true, "[]"},
			{"nobody", []string{"login:aa", "source:192.0.2.9"}, false, "[login:aa]"},
			{"nobody", nil, false, "[]"},
		}
		for _, c := range cases {
			st, err := s.LoginStateOf(ctx, c.login, "", c.subjects...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range st.Failures {
				got = append(got, f.Subject)
				if f.Failures != 1 || !f.WindowStart.Equal(t0) || !f.LockedUntil.IsZero() {
					t.Errorf("%s %v: count %+v", c.login, c.subjects, f)
				}
			}
			slices.Sort(got)
			if st.Known != c.known || fmt.Sprint(got) != c.failures {
				t.Errorf("%s %v: known %v, failures %v; want %v, %s", c.login, c.subjects, st.Known, got, c.known, c.failures)
			}
			if c.known && (st.Account.ID != alice.ID || st.Account.PasswordHash != alice.PasswordHash || !st.Account.Created.Equal(t0)) {
				t.Errorf("account %+v, want %+v", st.Account, alice)
			}
		}
	})
}

// LoginStateOf, which every API call runs, probes each table by its key on
// both databases, whatever the number of failure rows. On SQLite every step
// is a SEARCH: the LEFT JOINs from a constant row over an IN list that
// PostgreSQL keeps show up there as SCANs (and cost an ephemeral table per
// call, which the plan does not show).
func TestLoginStateOfPlan(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		account(t, s, "alice")
		if err := s.Exec(ctx, `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20000)
			INSERT INTO login_failures (subject, label, window_start_ms, failures) SELECT 'source:' || i, 'x', 0, 1 FROM g`); err != nil {
			t.Fatal(err)
		}
		plan, err := s.Plan(ctx, s.LoginStateSQL(3), "alice", "192.0.2.1", "login:aa", "pair:alice 192.0.2.1", "source:192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`SCAN |Seq Scan on |TEMP B-TREE`).MatchString(plan) {
			t.Fatalf("LoginStateOf scans rather than searches by key:\n%s", plan)
		}
	})
}
