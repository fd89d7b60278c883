package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrBackupPostgres is Backup's answer on PostgreSQL, whose own tools make
// consistent copies (docs/operations.md).
var ErrBackupPostgres = errors.New("store: dcvmail backup copies SQLite databases; back PostgreSQL up with pg_dump or pg_basebackup (docs/operations.md)")

// Backup writes a consistent copy of the SQLite database to path while the
// database stays in use: VACUUM INTO reads one snapshot (WAL lets writers
// go on meanwhile) and writes a compact, self-contained database file with
// no write-ahead log beside it. The copy is made under a temporary name in
// path's directory, checked with PRAGMA integrity_check, made durable and
// only then renamed to path, so path is either absent or a whole, checked
// copy. An existing path is never overwritten. The file is readable by its
// owner only: it holds password hashes and keys.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.d != sqliteDialect {
		return ErrBackupPostgres
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("store: backup: %s exists; choose a new file name", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: backup: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// VACUUM INTO accepts an existing file only when it is empty: creating
	// it first sets the mode it keeps.
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".partial-*")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
		}
	}()
	if err := os.Chmod(tmpName, 0o600); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// Straight on the pool, not through the group commit: VACUUM cannot run
	// inside a transaction.
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO $1`, tmpName); err != nil {
		return fmt.Errorf("store: backup: VACUUM INTO: %w", err)
	}
	if err := checkCopy(ctx, tmpName); err != nil {
		return err
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Link(tmpName, abs); err != nil {
		// A link, not a rename, so that a file created at path meanwhile is
		// never replaced.
		return fmt.Errorf("store: backup: %w", err)
	}
	os.Remove(tmpName)
	done = true
	return syncFile(filepath.Dir(abs))
}

// checkCopy opens a finished copy read-only (so that checking it changes
// nothing in it, not even its journal mode) and runs PRAGMA
// integrity_check on it.
func checkCopy(ctx context.Context, path string) error {
	u := url.URL{Scheme: "file", Opaque: url.PathEscape(path)}
	db, err := sql.Open(sqliteDialect.driver, u.String()+"?mode=ro")
	if err != nil {
		return fmt.Errorf("store: backup: opening the copy: %w", err)
	}
	defer db.Close()
	return integrityCheck(ctx, db)
}

// IntegrityCheck runs PRAGMA integrity_check on a SQLite store and returns
// an error carrying its findings unless it answers "ok".
func IntegrityCheck(ctx context.Context, s *Store) error {
	if s.d != sqliteDialect {
		return errors.New("store: integrity_check is SQLite's")
	}
	return integrityCheck(ctx, s.db)
}

func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("store: integrity_check: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("store: integrity_check: %w", err)
		}
		found = append(found, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: integrity_check: %w", err)
	}
	if len(found) != 1 || found[0] != "ok" {
		return fmt.Errorf("store: integrity_check: %s", strings.Join(found, "; "))
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
