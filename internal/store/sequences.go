package store

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// Migration 18 gives order numbers and certificate IDs a sequence each on
// PostgreSQL.
//
// Both were rows of counters, taken with UPDATE … RETURNING inside the
// transaction that places an order (AutoApplySSL, the operator's orders).
// On PostgreSQL that locked the row until the commit, so every order of
// every account was placed one after another, each waiting holding a
// connection of the pool: 170–230 AutoApplySSL a second at 32 in flight
// (BENCHMARKS.md, "Fourth round"). nextval takes no lock and waits for
// nothing; a number taken by a transaction that then rolls back is skipped,
// as order numbers may be. SQLite has one writer at a time anyway and no
// sequences: there the counters stay, and this migration records its
// version and changes nothing.
const sequencesVersion = 18

// sequenced are the counters that have a sequence on PostgreSQL, named
// after them with _seq.
var sequenced = []string{"order_number", "certificate_id"}

func sequencesMigration(d *dialect) *goose.Migration {
	if d == sqliteDialect {
		return goose.NewGoMigration(sequencesVersion, nil, nil)
	}
	return goose.NewGoMigration(sequencesVersion,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			for _, name := range sequenced {
				if _, err := tx.ExecContext(ctx, `CREATE SEQUENCE `+name+`_seq AS BIGINT`); err != nil {
					return err
				}
				// The counter holds the last value taken; so will the sequence.
				if _, err := tx.ExecContext(ctx, `SELECT setval('`+name+`_seq', value) FROM counters WHERE name = $1`, name); err != nil {
					return err
				}
			}
			return nil
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			for _, name := range sequenced {
				if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = (SELECT last_value FROM `+name+`_seq) WHERE name = $1`, name); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DROP SEQUENCE `+name+`_seq`); err != nil {
					return err
				}
			}
			return nil
		}},
	)
}

// next takes the next value of a counter (order_number, certificate_id).
func (q Queries) next(ctx context.Context, counter string) (int64, error) {
	query := `UPDATE counters SET value = value + 1 WHERE name = '` + counter + `' RETURNING value`
	if q.d.sequences {
		query = `SELECT nextval('` + counter + `_seq')`
	}
	var n int64
	err := q.ex.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// setCounter makes value the last value taken of a counter, so that the
// next is value+1. On PostgreSQL it holds at once, whether or not the
// transaction commits.
func (q Queries) setCounter(ctx context.Context, counter string, value int64) error {
	query := `UPDATE counters SET value = $1 WHERE name = '` + counter + `'`
	if q.d.sequences {
		query = `SELECT setval('` + counter + `_seq', $1)`
	}
	_, err := q.ex.ExecContext(ctx, query, value)
	return err
}

// raiseCounter makes the last value taken of a counter at least value. On
// PostgreSQL a nextval between its read and its write is not waited for:
// it serves seeding (store.SeedOrders), which nothing else runs beside.
func (q Queries) raiseCounter(ctx context.Context, counter string, value int64) error {
	query := `UPDATE counters SET value = CASE WHEN value < $1 THEN $1 ELSE value END WHERE name = '` + counter + `'`
	if q.d.sequences {
		query = `SELECT setval('` + counter + `_seq', GREATEST($1, last_value)) FROM ` + counter + `_seq`
	}
	_, err := q.ex.ExecContext(ctx, query, value)
	return err
}
