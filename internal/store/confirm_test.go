package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

// The limit on codes per order holds across nodes: two stores on one
// database (two nodes) counting codes for one order at once each get a
// distinct count, and none is lost.
func TestCodeAttemptsCountAcrossNodes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			nodes := []*store.Store{open(t, url), open(t, url)}
			ctx := context.Background()
			const each = 8
			var mu sync.Mutex
			var counts []int
			var wg sync.WaitGroup
			for i := range 2 * each {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := nodes[i%2].Tx(ctx, func(tx model.Tx) error {
						a, err := countOne(ctx, tx, model.CodeSubject{Subject: "order:4242 source:192.0.2.1", OrderNumber: 4242}, t0, t0.Add(-time.Hour))
						mu.Lock()
						counts = append(counts, a.Failures)
						mu.Unlock()
						return err
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			slices.Sort(counts)
			for i, c := range counts {
				if c != i+1 {
					t.Fatalf("counts %v: want 1..%d, each once", counts, 2*each)
				}
			}
		})
	}
}

// A window ends an hour after it started: the count starts again at 1;
// reading changes nothing; old windows are pruned.
func TestCodeAttemptsWindow(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		count := func(at time.Time) model.CodeAttempts {
			t.Helper()
			var a model.CodeAttempts
			err := s.Tx(ctx, func(tx model.Tx) error {
				var err error
				a, err = countOne(ctx, tx, model.CodeSubject{Subject: "source:192.0.2.7"}, at, at.Add(-time.Hour))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		if a, err := s.CodeAttemptsOf(ctx, "source:192.0.2.7"); err != nil || a.Failures != 0 {
			t.Fatalf("no count yet: %+v (%v)", a, err)
		}
		count(t0)
		if a := count(t0.Add(59 * time.Minute)); a.Failures != 2 || !a.WindowStart.Equal(t0) {
			t.Fatalf("within the window: %+v", a)
		}
		if a := count(t0.Add(time.Hour)); a.Failures != 1 || !a.WindowStart.Equal(t0.Add(time.Hour)) {
			t.Fatalf("a new window: %+v", a)
		}
		count(t0) // source 7 in the current window; source 8 in an old one
		err := s.Tx(ctx, func(tx model.Tx) error {
			_, err := countOne(ctx, tx, model.CodeSubject{Subject: "source:192.0.2.8"}, t0.Add(-2*time.Hour), t0.Add(-3*time.Hour))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneCodeAttempts(ctx, t0.Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want 1", n, err)
		}
		if a, _ := s.CodeAttemptsOf(ctx, "source:192.0.2.7"); a.Failures == 0 {
			t.Fatal("the current window was pruned")
		}
	})
}

// HoldCodeAttempts reads what CountCodeAttempts would add to and changes no
// count: a count in its window and epoch as it is, and a missing one, one
// whose window is over or one of another epoch as no failures from now.
func TestHoldCodeAttempts(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const source, perOrder, missing = "source:192.0.2.5", "order:100 source:192.0.2.5", "source:192.0.2.6"
		count := func(at time.Time, subjects ...model.CodeSubject) {
			t.Helper()
			if err := s.Tx(ctx, func(tx model.Tx) error {
				_, err := tx.CountCodeAttempts(ctx, subjects, at, at.Add(-time.Hour))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		count(t0, model.CodeSubject{Subject: source}, model.CodeSubject{Subject: perOrder, OrderNumber: 100, Epoch: 7})
		count(t0.Add(time.Minute), model.CodeSubject{Subject: source})
		hold := func(now time.Time, subjects ...model.CodeSubject) []model.CodeAttempts {
			t.Helper()
			var got []model.CodeAttempts
			if err := s.Tx(ctx, func(tx model.Tx) (err error) {
				got, err = tx.HoldCodeAttempts(ctx, subjects, now, now.Add(-time.Hour))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		now := t0.Add(30 * time.Minute)
		got := hold(now, model.CodeSubject{Subject: source}, model.CodeSubject{Subject: perOrder, OrderNumber: 100, Epoch: 7},
			model.CodeSubject{Subject: missing})
		if len(got) != 3 || got[0].Failures != 2 || !got[0].WindowStart.Equal(t0) || got[1].Failures != 1 || !got[1].WindowStart.Equal(t0) ||
			got[2].Failures != 0 || !got[2].WindowStart.Equal(now) {
			t.Fatalf("in the window: %+v, want 2 and 1 from %v, and none from %v", got, t0, now)
		}
		if got := hold(now, model.CodeSubject{Subject: perOrder, OrderNumber: 100, Epoch: 8}); got[0].Failures != 0 || !got[0].WindowStart.Equal(now) {
			t.Fatalf("under a newer email: %+v, want no failures from now", got)
		}
		later := t0.Add(time.Hour)
		if got := hold(later, model.CodeSubject{Subject: source}); got[0].Failures != 0 || !got[0].WindowStart.Equal(later) {
			t.Fatalf("after the window: %+v, want no failures from now", got)
		}
		for subject, want := range map[string]int{source: 2, perOrder: 1, missing: 0} {
			if a, err := s.CodeAttemptsOf(ctx, subject); err != nil || a.Failures != want {
				t.Fatalf("%s after holding: %+v (%v), want %d failures as before", subject, a, err, want)
			}
		}
		count(now, model.CodeSubject{Subject: missing})
		if a, err := s.CodeAttemptsOf(ctx, missing); err != nil || a.Failures != 1 || !a.WindowStart.Equal(now) {
			t.Fatalf("the first count after a hold: %+v (%v), want 1 from now", a, err)
		}
	})
}

// On PostgreSQL a held count is locked to the commit as a counted one is,
// a missing row included: another node's count of the subject waits for
// it, so that a right code and a wrong one of one source are still judged
// one at a time. (On SQLite the one writer is the lock.)
func TestHoldCodeAttemptsLocksAcrossNodes(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		holder, other := open(t, url), open(t, url)
		ctx := context.Background()
		subject := model.CodeSubject{Subject: "source:192.0.2.44"}
		held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- holder.Tx(ctx, func(tx model.Tx) error {
				if _, err := tx.HoldCodeAttempts(ctx, []model.CodeSubject{subject}, t0, t0.Add(-time.Hour)); err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		select {
		case <-held:
		case err := <-done:
			t.Fatalf("hold: %v", err)
		}
		count := func(ctx context.Context) (model.CodeAttempts, error) {
			var a model.CodeAttempts
			err := other.Tx(ctx, func(tx model.Tx) (err error) {
				a, err = countOne(ctx, tx, subject, t0, t0.Add(-time.Hour))
				return err
			})
			return a, err
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		a, err := count(short)
		cancel()
		if err == nil {
			t.Fatalf("another node counted a held subject before the hold committed: %+v", a)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if a, err := count(ctx); err != nil || a.Failures != 1 {
			t.Fatalf("the count after the hold: %+v (%v), want 1", a, err)
		}
	})
}

// countOne counts one code against one subject.
func countOne(ctx context.Context, tx model.Tx, subject model.CodeSubject, now, expired time.Time) (model.CodeAttempts, error) {
	counts, err := tx.CountCodeAttempts(ctx, []model.CodeSubject{subject}, now, expired)
	if err != nil {
		return model.CodeAttempts{}, err
	}
	return counts[0], nil
}

// Two subjects counted in one statement (the page's source and its source
// for one order) come back in the order given, each with its own count;
// a new epoch starts the order's count afresh, and not the source's.
func TestCodeAttemptsTogether(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		count := func(epoch int64, at time.Time) []model.CodeAttempts {
			t.Helper()
			var counts []model.CodeAttempts
			err := s.Tx(ctx, func(tx model.Tx) error {
				var err error
				counts, err = tx.CountCodeAttempts(ctx, []model.CodeSubject{
					{Subject: "source:192.0.2.5"},
					{Subject: "order:7 source:192.0.2.5", OrderNumber: 7, Epoch: epoch},
				}, at, at.Add(-time.Hour))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return counts
		}
		// The source counted alone first, so that the two counts differ.
		if err := s.Tx(ctx, func(tx model.Tx) error {
			_, err := countOne(ctx, tx, model.CodeSubject{Subject: "source:192.0.2.5"}, t0, t0.Add(-time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if c := count(1, t0); len(c) != 2 || c[0].Failures != 2 || c[1].Failures != 1 {
			t.Fatalf("first together: %+v, want the source at 2 and the order at 1", c)
		}
		if c := count(1, t0.Add(time.Minute)); c[0].Failures != 3 || c[1].Failures != 2 || !c[1].WindowStart.Equal(t0) {
			t.Fatalf("same epoch: %+v", c)
		}
		at := t0.Add(2 * time.Minute)
		if c := count(2, at); c[0].Failures != 4 || !c[0].WindowStart.Equal(t0) || c[1].Failures != 1 || !c[1].WindowStart.Equal(at) {
			t.Fatalf("new epoch: %+v, want the source at 4 from t0 and the order at 1 from now", c)
		}
		if a, err := s.CodeAttemptsOf(ctx, "order:7 source:192.0.2.5"); err != nil || a.Failures != 1 {
			t.Fatalf("stored order count: %+v (%v)", a, err)
		}
	})
}

// Confirmations keep their evidence as given.
func TestConfirmationsEvidence(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := account(t, s, "alice")
		email := order(t, s, acct, 100, 100)
		c := model.Confirmation{OrderNumber: 100, EmailID: email, Domains: []string{"example.com", "*.example.com"},
			ClientIP: "2001:db8::1", PeerAddr: "[::1]:4444", UserAgent: "Mozilla/5.0 (X11) Ünïcode", At: t0}
		id, err := s.Direct().RecordConfirmation(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ConfirmationsOfOrder(ctx, 100)
		if err != nil || len(got) != 1 {
			t.Fatalf("%+v (%v)", got, err)
		}
		c.ID = id
		if g := got[0]; g.ID != c.ID || g.EmailID != c.EmailID || !slices.Equal(g.Domains, c.Domains) || g.ClientIP != c.ClientIP ||
			g.PeerAddr != c.PeerAddr || g.UserAgent != c.UserAgent || !g.At.Equal(c.At) {
			t.Fatalf("got %+v, want %+v", g, c)
		}
	})
}

// ConfirmDomains validates the domains whose live email it names and keeps
// the evidence, and nothing else: not another email's domains, and no
// count of wrong codes. On PostgreSQL it is one statement.
func TestConfirmDomains(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := account(t, s, "alice")
		email := order(t, s, acct, 100, 100)
		other := order(t, s, acct, 101, 101)
		const source, perOrder, bystander = "source:192.0.2.5", "order:100 source:192.0.2.5", "source:192.0.2.6"
		if err := s.Tx(ctx, func(tx model.Tx) error {
			_, err := tx.CountCodeAttempts(ctx, []model.CodeSubject{{Subject: source}, {Subject: perOrder, OrderNumber: 100, Epoch: email}, {Subject: bystander}}, t0, t0.Add(-time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		confirm := func(c model.Confirmation) int64 {
			t.Helper()
			var n int64
			if err := s.Tx(ctx, func(tx model.Tx) (err error) { n, err = tx.ConfirmDomains(ctx, c); return err }); err != nil {
				t.Fatal(err)
			}
			return n
		}
		c := model.Confirmation{OrderNumber: 100, EmailID: email, Domains: []string{"example.com"},
			ClientIP: "2001:db8::1", PeerAddr: "[::1]:4444", UserAgent: "Mozilla/5.0 (X11) Ünïcode", At: t0.Add(time.Minute)}
		if n := confirm(c); n != 1 {
			t.Fatalf("first confirmation validated %d domains, want 1", n)
		}
		if n := confirm(model.Confirmation{OrderNumber: 100, EmailID: other, At: t0}); n != 0 {
			t.Fatalf("another order's email validated %d domains of order 100, want 0", n)
		}
		if n := confirm(c); n != 0 {
			t.Fatalf("second confirmation validated %d domains, want 0 (already validated)", n)
		}
		domains, err := s.Domains(ctx, 100)
		if err != nil || len(domains) != 1 || !domains[0].Validated.Equal(c.At) || domains[0].ValidatedEmailID != email {
			t.Fatalf("order 100's domains: %+v (%v), want validated at %v by email %d", domains, err, c.At, email)
		}
		if domains, err := s.Domains(ctx, 101); err != nil || !domains[0].Validated.IsZero() {
			t.Fatalf("order 101's domains: %+v (%v), want none validated", domains, err)
		}
		got, err := s.ConfirmationsOfOrder(ctx, 100)
		if err != nil || len(got) != 3 {
			t.Fatalf("evidence: %+v (%v), want three confirmations", got, err)
		}
		if g := got[0]; g.EmailID != email || !slices.Equal(g.Domains, c.Domains) || g.ClientIP != c.ClientIP ||
			g.PeerAddr != c.PeerAddr || g.UserAgent != c.UserAgent || !g.At.Equal(c.At) {
			t.Fatalf("evidence %+v, want %+v", g, c)
		}
		for subject, want := range map[string]int{source: 1, perOrder: 1, bystander: 1} {
			if a, err := s.CodeAttemptsOf(ctx, subject); err != nil || a.Failures != want {
				t.Fatalf("%s: %+v (%v), want %d failures", subject, a, err, want)
			}
		}
	})
}
