package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// TestBackupWhileWriting copies a SQLite database while writers commit to
// it, then opens the copy as a restored database: it must pass
// integrity_check and hold exactly the transactions committed up to one
// moment, each whole (an account and the counter written with it).
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, store.SQLiteURL(filepath.Join(dir, "live.db")))
	// Some bulk, so that the copy takes a while.
	if err := s.Tx(ctx, func(tx model.Tx) error {
		for i := range 3000 {
			if _, err := tx.CreateAccount(ctx, model.Account{Login: fmt.Sprintf("bulk-%d", i), PasswordHash: "h", Created: t0}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.Tx(ctx, func(tx model.Tx) error {
					n := next.Add(1)
					if _, err := tx.CreateAccount(ctx, model.Account{Login: fmt.Sprintf("w-%d", n), PasswordHash: "h", Created: t0}); err != nil {
						return err
					}
					// The counter is the number of w- accounts: each
					// transaction adds one of each, so a copy taken
					// mid-transaction would disagree.
					var c int64
					if err := tx.(*store.Tx).QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE login LIKE 'w-%'`, &c); err != nil {
						return err
					}
					return tx.SetSetting(ctx, "backup_test_count", fmt.Sprint(c))
				})
				if err != nil {
					t.Error(err)
					return
				}
				written.Add(1)
			}
		}()
	}
	for written.Load() < 20 { // let the writers get going first
		time.Sleep(time.Millisecond)
	}
	before := written.Load()
	to := filepath.Join(dir, "copy.db")
	if err := s.Backup(ctx, to); err != nil {
		t.Fatal(err)
	}
	during := written.Load() - before
	close(stop)
	wg.Wait()
	if during == 0 {
		t.Error("no transaction committed while the backup ran: the copy blocked the writers")
	}
	t.Logf("%d transactions committed during the backup, %d in all", during, written.Load())

	if fi, err := os.Stat(to); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600 (it holds password hashes and keys)", fi.Mode().Perm())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".copy.db.partial-*")); len(m) > 0 {
		t.Errorf("temporary files left behind: %v", m)
	}

	// Restore: the copy is a database of its own.
	restored := open(t, store.SQLiteURL(to))
	if err := store.IntegrityCheck(ctx, restored); err != nil {
		t.Fatal(err)
	}
	var accounts, bulk int64
	if err := restored.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE login LIKE 'w-%'`, &accounts); err != nil {
		t.Fatal(err)
	}
	if err := restored.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE login LIKE 'bulk-%'`, &bulk); err != nil {
		t.Fatal(err)
	}
	counter, err := restored.Setting(ctx, "backup_test_count")
	if err != nil {
		t.Fatal(err)
	}
	if bulk != 3000 {
		t.Errorf("copy has %d bulk accounts, want 3000", bulk)
	}
	if fmt.Sprint(accounts) != counter {
		t.Errorf("copy has %d written accounts but the counter committed with them says %s: not one consistent moment", accounts, counter)
	}
	if accounts < before || accounts > written.Load() {
		t.Errorf("copy has %d written accounts, want between %d (before the backup) and %d (after)", accounts, before, written.Load())
	}
	// The restored database takes writes.
	account(t, restored, "after-restore")

	// An existing file is never overwritten.
	err = s.Backup(ctx, to)
	if err == nil {
		t.Fatal("a backup over an existing file succeeded")
	}
	if err := store.IntegrityCheck(ctx, restored); err != nil {
		t.Fatal(err)
	}
}

func TestBackupRefusesPostgres(t *testing.T) {
	t.Parallel()
	s := open(t, backends[1].url(t))
	err := s.Backup(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if !errors.Is(err, store.ErrBackupPostgres) {
		t.Fatalf("Backup on PostgreSQL: %v, want ErrBackupPostgres", err)
	}
}
