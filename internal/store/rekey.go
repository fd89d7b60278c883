package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"
)

// Migration 5 changes how SQLite keys the two tables every resend reads.
//
// A SQLite table whose key is not INTEGER PRIMARY KEY is two B-trees: the
// rows in rowid order, and an index from the key to the rowid, so every
// lookup by key descends both. orders (order_number BIGINT PRIMARY KEY)
// and order_domains (PRIMARY KEY (order_number, position)) were such
// tables. After this migration, orders' order_number is its rowid, and
// order_domains is a WITHOUT ROWID table: its rows kept in key order, an
// order's domains side by side. Each lookup descends one B-tree.
//
// SQLite cannot change a table's key in place, and a table that others
// reference cannot be rebuilt while foreign keys are enforced, so this is a
// Go migration: it follows https://sqlite.org/lang_altertable.html#otheralter
// on one connection, foreign keys off, and checks every foreign key before
// it commits. PostgreSQL keeps each table as a heap with its key as an index
// whatever the declaration: there the migration records its version and
// changes nothing.
const rekeyVersion = 5

// rekeyed is a table of migration 5: its definition before and after, and
// the indexes that dropping it removes.
type rekeyed struct {
	name          string
	columns       string
	before, after string // CREATE TABLE rekey_new (...)
	indexes       []string
}

var rekeyTables = []rekeyed{
	{
		name:    "orders",
		columns: orderColumns,
		before: `CREATE TABLE rekey_new (
    order_number      BIGINT PRIMARY KEY,
    account_id        BIGINT NOT NULL REFERENCES accounts (id),
    base_order_number BIGINT NOT NULL,
    status            TEXT NOT NULL,
    template_id       BIGINT,
    resend_tat_ms     BIGINT NOT NULL DEFAULT 0,
    created_ms        BIGINT NOT NULL
)`,
		after: `CREATE TABLE rekey_new (
    order_number      INTEGER PRIMARY KEY,     -- the rowid
    account_id        BIGINT NOT NULL REFERENCES accounts (id),
    base_order_number BIGINT NOT NULL,
    status            TEXT NOT NULL,           -- active, cancelled, rejected
    template_id       BIGINT,                  -- last used; NULL is the built-in one
    resend_tat_ms     BIGINT NOT NULL DEFAULT 0, -- GCRA theoretical arrival time
    created_ms        BIGINT NOT NULL
)`,
		indexes: []string{
			`CREATE INDEX orders_base ON orders (base_order_number, order_number)`,
			`CREATE INDEX orders_account ON orders (account_id)`,
		},
	},
	{
		name:    "order_domains",
		columns: domainColumns,
		before: `CREATE TABLE rekey_new (
    order_number       BIGINT NOT NULL REFERENCES orders (order_number),
    position           INTEGER NOT NULL,
    domain_name        TEXT NOT NULL,
    fqdn               TEXT NOT NULL,
    dcv_method         TEXT NOT NULL,
    dcv_email          TEXT NOT NULL DEFAULT '',
    dcv_source         TEXT NOT NULL DEFAULT '',
    current_email_id   BIGINT REFERENCES dcv_emails (id),
    validated_ms       BIGINT,
    validated_email_id BIGINT REFERENCES dcv_emails (id),
    PRIMARY KEY (order_number, position)
)`,
		after: `CREATE TABLE rekey_new (
    order_number       BIGINT NOT NULL REFERENCES orders (order_number),
    position           INTEGER NOT NULL,
    domain_name        TEXT NOT NULL,          -- as ordered, e.g. *.example.com
    fqdn               TEXT NOT NULL,          -- normalized, for the address rules
    dcv_method         TEXT NOT NULL,          -- EMAIL, HTTP_CSR_HASH, ...
    dcv_email          TEXT NOT NULL DEFAULT '',
    dcv_source         TEXT NOT NULL DEFAULT '', -- BR method of dcv_email
    current_email_id   BIGINT REFERENCES dcv_emails (id),
    validated_ms       BIGINT,
    validated_email_id BIGINT REFERENCES dcv_emails (id),
    PRIMARY KEY (order_number, position)
) WITHOUT ROWID`,
		indexes: []string{
			`CREATE INDEX order_domains_email ON order_domains (current_email_id)`,
		},
	},
}

// goMigrations are the migrations written in Go, for the dialect.
func goMigrations(d *dialect) []*goose.Migration {
	rekeying := goose.NewGoMigration(rekeyVersion, nil, nil)
	if d == sqliteDialect {
		rekeying = goose.NewGoMigration(rekeyVersion,
			&goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error { return rekey(ctx, db, true) }},
			&goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error { return rekey(ctx, db, false) }},
		)
	}
	return []*goose.Migration{rekeying, sequencesMigration(d), offersRoomMigration(d)}
}

// rekey rebuilds the tables of migration 5 with their new definitions (up)
// or their old ones (down), in one transaction. It changes nothing when the
// tables already are as asked: another process that opened the same file
// may have migrated it first.
func rekey(ctx context.Context, db *sql.DB, up bool) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// PRAGMA foreign_keys is a no-op inside a transaction: it is turned off
	// before, and back on after, on this connection alone.
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil {
			// Never hand the pool a connection that does not enforce them.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, ferr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): the write lock from the start
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var ddl string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'order_domains'`).Scan(&ddl); err != nil {
		return err
	}
	if strings.Contains(ddl, "WITHOUT ROWID") == up {
		return nil
	}
	for _, t := range rekeyTables {
		create := t.before
		if up {
			create = t.after
		}
		stmts := append([]string{
			create,
			`INSERT INTO rekey_new (` + t.columns + `) SELECT ` + t.columns + ` FROM ` + t.name,
			`DROP TABLE ` + t.name,
			`ALTER TABLE rekey_new RENAME TO ` + t.name,
		}, t.indexes...)
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("rebuild %s: %w", t.name, err)
			}
		}
	}
	// Every reference, not just the rebuilt tables': a broken one anywhere
	// would otherwise be committed unseen.
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	var broken []string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			rows.Close()
			return err
		}
		broken = append(broken, fmt.Sprintf("%s row %d → %s", table, rowid.Int64, parent))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(broken) > 0 {
		return fmt.Errorf("foreign keys broken after the rebuild: %s", strings.Join(broken, ", "))
	}
	return tx.Commit()
}
