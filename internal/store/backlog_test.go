package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// waitBacklog waits (at most 10 s) until ok accepts the store's write
// backlog.
func waitBacklog(t *testing.T, s *store.Store, ok func(time.Duration) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(s.WriteBacklog()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("write backlog still %v after 10 s", s.WriteBacklog())
		}
	}
}

// WriteBacklog is the age of the oldest write waiting to start: none while
// the writes run, and once one waits behind SQLite's writer or for a
// connection of PostgreSQL's pool, its age, until it starts.
func TestWriteBacklog(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if b := s.WriteBacklog(); b != 0 {
			t.Fatalf("backlog %v with nothing running", b)
		}
		held := 1 // SQLite's writer
		if s.Dialect() == "postgres" {
			held = s.DB().Stats().MaxOpenConnections
		}
		started, unblock, errs := make(chan struct{}, held), make(chan struct{}), make(chan error, held+1)
		for range held {
			go func() {
				errs <- s.Tx(ctx, func(model.Tx) error { started <- struct{}{}; <-unblock; return nil })
			}()
		}
		for range held {
			<-started
		}
		if b := s.WriteBacklog(); b != 0 {
			t.Fatalf("backlog %v with %d transactions running and none waiting", b, held)
		}
		go func() { errs <- s.Tx(ctx, func(model.Tx) error { return nil }) }()
		waitBacklog(t, s, func(b time.Duration) bool { return b > 0 })
		time.Sleep(30 * time.Millisecond)
		if b := s.WriteBacklog(); b < 30*time.Millisecond {
			t.Fatalf("backlog %v after the queued write waited 30 ms", b)
		}
		close(unblock)
		for range held + 1 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if b := s.WriteBacklog(); b != 0 {
			t.Fatalf("backlog %v once every write ran", b)
		}
	})
}

// On PostgreSQL the address lists' offers wait for their upsert in a
// queue of their own, which the backlog covers too.
func TestWriteBacklogOfOffers(t *testing.T) {
	onPostgres(t, func(t *testing.T, s *store.Store) {
		alice := account(t, s, "alice")
		queued, release := s.HoldOffers()
		done := make(chan error, 1)
		go func() {
			done <- s.RecordOffers(context.Background(), []model.Offer{{AccountID: alice.ID, FQDN: "example.com",
				Mailbox: "admin@example.com", Source: "constructed", ADN: "example.com", At: t0}})
		}()
		for queued() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(30 * time.Millisecond)
		if b := s.WriteBacklog(); b < 30*time.Millisecond {
			t.Fatalf("backlog %v after the offers waited 30 ms", b)
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b := s.WriteBacklog(); b != 0 {
			t.Fatalf("backlog %v once the offers were written", b)
		}
	})
}
