package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Transactions that run concurrently on SQLite share commits
// (groupcommit.go). Each must still behave as if it ran alone: what a
// failing one wrote is rolled back and nobody else's, a panic reaches its
// own caller, and a caller whose context has ended is not run.
func TestGroupCommitKeepsTransactionsApart(t *testing.T) {
	ctx := context.Background()
	s := open(t, store.SQLiteURL(filepath.Join(t.TempDir(), "group.db")))
	errRefused := errors.New("refused")
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			c := ctx
			if i%10 == 9 {
				c = cancelled
			}
			errs[i] = s.Tx(c, func(tx model.Tx) error {
				if err := tx.SetSetting(c, fmt.Sprintf("k%d", i), "v"); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errRefused // written, then rolled back
				case 7:
					panic(fmt.Sprintf("panic %d", i))
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		v, err := s.Setting(ctx, fmt.Sprintf("k%d", i))
		if err != nil {
			t.Fatal(err)
		}
		switch i % 10 {
		case 3:
			if !errors.Is(errs[i], errRefused) || v != "" {
				t.Errorf("tx %d: err %v, value %q; want its own error and nothing written", i, errs[i], v)
			}
		case 7:
			if panics[i] != fmt.Sprintf("panic %d", i) || v != "" {
				t.Errorf("tx %d: panic %v, value %q; want its own panic and nothing written", i, panics[i], v)
			}
		case 9:
			if !errors.Is(errs[i], context.Canceled) || v != "" {
				t.Errorf("tx %d: err %v, value %q; want context.Canceled and nothing written", i, errs[i], v)
			}
		default:
			if errs[i] != nil || panics[i] != nil || v != "v" {
				t.Errorf("tx %d: err %v, panic %v, value %q; want committed", i, errs[i], panics[i], v)
			}
		}
	}
}

// A statement run outside a transaction also joins the queue, and a
// transaction sees what earlier members of its batch wrote, as a serial
// execution would.
func TestGroupCommitIsSerial(t *testing.T) {
	ctx := context.Background()
	s := open(t, store.SQLiteURL(filepath.Join(t.TempDir(), "serial.db")))
	if err := s.Direct().SetSetting(ctx, "counter", "0"); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.Tx(ctx, func(tx model.Tx) error {
				v, err := tx.Setting(ctx, "counter")
				if err != nil {
					return err
				}
				var k int
				fmt.Sscan(v, &k)
				return tx.SetSetting(ctx, "counter", fmt.Sprint(k+1))
			})
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := s.Direct().SetSetting(ctx, "other", "x"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v, _ := s.Setting(ctx, "counter"); v != fmt.Sprint(n) {
		t.Errorf("counter %s after %d increments", v, n)
	}
}

// Every batch runs on the same connection, so that it finds the pages the
// previous batch left in that connection's cache (SQLite empties the cache
// of a connection when another one has committed since). A TEMP table,
// which only the connection that made it sees, tells: the pool hands out
// the connection it got back last, so without a connection of the
// writer's own the second batch would run on another one.
func TestGroupCommitKeepsOneConnection(t *testing.T) {
	ctx := context.Background()
	s := open(t, store.SQLiteURL(filepath.Join(t.TempDir(), "writer.db")))
	if err := s.TxExec(ctx, `CREATE TEMP TABLE writer_probe (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	held, err := s.DB().Conn(ctx) // the connection the pool got back last
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := held.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.TxExec(ctx, `INSERT INTO temp.writer_probe VALUES (1)`); err != nil {
			t.Fatalf("batch %d did not run on the first batch's connection: %v", i+2, err)
		}
	}
	var n int
	if err := held.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'writer_probe'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("a connection of the pool has the writer's TEMP table: the pool handed out the writer's connection")
	}
}
