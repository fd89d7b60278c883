// Package store keeps dcvmail's state: accounts, orders and their domains,
// DCV emails, the outbox, the built-in mailbox and the record of offered
// addresses. One SQL text serves SQLite and PostgreSQL through database/sql;
// the few differences live in dialect.go.
//
// The store decides nothing: the rules of DCV are in package dcv, which reads
// and writes through a Tx so that each decision and its effects commit
// together.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open database. It is safe for concurrent use. Its holder
// reads directly and writes through Tx, but for the few writes that stand
// alone (standalone.go).
type Store struct {
	Reads
	db *sql.DB
	d  *dialect
	// On SQLite, group commits concurrent transactions together
	// (groupcommit.go) and stmts keeps prepared statements (stmtcache.go).
	group *groupCommit
	stmts *stmtCache
	// On PostgreSQL, TxFor's callers of one key wait here, and the
	// address lists' offers are written together (offerbatch.go).
	keyed  keyLocks
	offers *offerBatch
	// poolWait holds the transactions waiting for a connection of
	// PostgreSQL's pool (backlog.go).
	poolWait waitLine
}

// Open connects to the database named by a --db URL. It does not migrate.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	d, dsn, err := parseURL(dbURL)
	if err != nil {
		return nil, err
	}
	if err := privateFiles(dbURL); err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if d == sqliteDialect {
		// One writer at a time anyway; a few connections let reads proceed
		// beside it under WAL.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	} else {
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s := &Store{Reads: Reads{ex: db, d: d, seal: &sealBox{}}, db: db, d: d}
	if d == sqliteDialect {
		s.stmts = &stmtCache{db: db}
		s.group = &groupCommit{db: db, d: d, stmts: s.stmts, seal: s.seal}
		s.ex = cachedDB{DB: db, c: s.stmts, group: s.group}
	} else {
		s.offers = &offerBatch{q: s.direct()}
	}
	return s, nil
}

// Dialect names the database kind: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Close closes the database.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	return s.db.Close()
}

// Ping tells whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate brings the schema up to date. Several processes may call it at
// once: on PostgreSQL a session advisory lock serializes them, and SQLite's
// write lock does the same there.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	// SQLite has no session lock: two processes may both see a migration
	// pending and the second then fails on what the first created. Once a
	// failed run finds nothing pending, another process has done the work.
	for attempt := 1; ; attempt++ {
		_, err := p.Up(ctx)
		if err == nil {
			return nil
		}
		if pending, perr := p.HasPending(ctx); perr == nil && !pending {
			return nil
		}
		if attempt == 3 {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
}

// migrations is goose's provider of the embedded migrations.
func (s *Store) migrations() (*goose.Provider, error) {
	fsys, err := s.migrationFS()
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithGoMigrations(goMigrations(s.d)...)}
	if s.d == postgresDialect {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.d.goose, s.db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// migrationFS is the embedded migrations with the dialect's words in place.
func (s *Store) migrationFS() (fs.FS, error) {
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(string(b), "ID_COLUMN", s.d.idColumn)
		out[e.Name()] = &fstest.MapFile{Data: []byte(text)}
	}
	return out, nil
}

// Tx runs fn in one transaction and commits when fn returns nil. On SQLite
// the transaction holds the write lock from its start, and transactions
// that arrive together commit together (groupcommit.go: fn runs once, in a
// savepoint of a shared transaction, and Tx returns after the shared
// commit); on PostgreSQL rows are locked as fn reads them with the
// ...ForUpdate methods.
func (s *Store) Tx(ctx context.Context, fn func(model.Tx) error) error {
	return s.tx(ctx, func(tx *Tx) error { return fn(tx) })
}

// TxFor is Tx for a transaction that locks the row of key early and holds
// it to the end, such as the page's count of wrong codes per source. On
// PostgreSQL the transactions of one key run one at a time on this node and
// wait for their turn in the process, without a connection: waiting on the
// row instead, each held a connection of the pool, so that one source's
// flood of POSTs took every connection of the node from everyone else, and
// each POST cost twice the CPU it costs now (BENCHMARKS.md, "Fourth
// round"). On SQLite it is Tx: group commit already runs transactions one
// at a time without a connection each, and lets one key's transactions
// share a commit.
func (s *Store) TxFor(ctx context.Context, key string, fn func(model.Tx) error) error {
	if s.group != nil {
		return s.Tx(ctx, fn)
	}
	unlock, err := s.keyed.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	return s.Tx(ctx, fn)
}

// Both are what the packages that decide are given (package model).
var (
	_ model.Tx    = (*Tx)(nil)
	_ model.Reads = (*Store)(nil)
)

// tx is Tx for the store's own code, which also reaches the transaction's
// unexported statements.
func (s *Store) tx(ctx context.Context, fn func(*Tx) error) error {
	if s.group != nil {
		return s.group.tx(ctx, fn)
	}
	waiting := s.poolWait.join()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	s.poolWait.leave(waiting)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{Queries: Queries{Reads{ex: sqlTx, d: s.d, seal: s.seal}}}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Tx is an open transaction; its Queries see and change the same snapshot.
type Tx struct {
	Queries
}

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Reads are the store's statements that change nothing, run on the
// database directly (Store) or inside a Tx.
type Reads struct {
	ex   execer
	d    *dialect
	seal *sealBox // the message key, once UseMessageKey has set it (sealing.go)
}

// Queries are every statement of the store, writes included. Only a Tx has
// them: a write outside a transaction is one of the few Store methods that
// say why it may stand alone (store.go, "Writes on their own").
type Queries struct {
	Reads
}

// ms converts a time to stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts stored Unix milliseconds to a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullTime converts a nullable millisecond column; zero time for NULL.
func nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// nullInt returns NULL for 0.
func nullInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return model.ErrNotFound
	}
	return err
}

// insertID runs an INSERT of one row into a table with an id column and
// returns the new id: on PostgreSQL with RETURNING, on SQLite from the
// driver's last insert id, since a RETURNING there costs the statement
// about a fifth more, inside the one writer's turn
// (BenchmarkResendStatements).
func (q Queries) insertID(ctx context.Context, insert string, args ...any) (int64, error) {
	if q.d.lastInsertID {
		res, err := q.ex.ExecContext(ctx, insert, args...)
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	var id int64
	err := q.ex.QueryRowContext(ctx, insert+" RETURNING id", args...).Scan(&id)
	return id, err
}

// QueryRow runs a one-row, one-column query (tests and status output).
func (q Reads) QueryRow(ctx context.Context, query string, dst any, args ...any) error {
	return q.ex.QueryRowContext(ctx, query, args...).Scan(dst)
}

// ping connects once. A new SQLite connection switches the file to WAL,
// which takes a lock that SQLite may refuse at once (SQLITE_BUSY, without
// its busy handler) while several processes open the same new file; such a
// refusal is tried again a few times.
func ping(ctx context.Context, db *sql.DB) error {
	for attempt := 1; ; attempt++ {
		err := db.PingContext(ctx)
		var coded interface{ Code() int }
		busy := errors.As(err, &coded) && coded.Code()&0xff == 5 // SQLITE_BUSY and its extended codes
		if err == nil || !busy || attempt == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}
