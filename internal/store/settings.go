package store

import (
	"context"
	"database/sql"
)

// EnsureSetting stores value under name unless the name already has one,
// and returns the value in force. Several nodes starting at once agree on
// the first value written.
func (q Queries) EnsureSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := q.ex.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", err
	}
	var v string
	err := q.ex.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, err
}

// SetSetting stores value under name, replacing any earlier value.
func (q Queries) SetSetting(ctx context.Context, name, value string) error {
	_, err := q.ex.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2`, name, value)
	return err
}

// Setting reads a setting; "" when it has none.
func (q Reads) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.ex.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, err
}
