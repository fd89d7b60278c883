package app

import (
	"context"

	"github.com/dcvmail/dcvmail/internal/store"
)

// ErrBackupPostgres: Backup copies SQLite databases only.
var ErrBackupPostgres = store.ErrBackupPostgres

// Backup copies the database at url to the file to, then checks the copy's
// integrity. It neither migrates nor writes the database it copies.
func Backup(ctx context.Context, url, to string) error {
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Backup(ctx, to)
}

// HoldsData reports whether the database at url holds dcvmail's data (a
// PostgreSQL database in which dcvmail never ran holds none). It does not
// migrate the database.
func HoldsData(ctx context.Context, url string) (bool, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return false, err
	}
	defer st.Close()
	var n int
	return st.QueryRow(ctx, `SELECT COUNT(*) FROM settings`, &n) == nil, nil
}
