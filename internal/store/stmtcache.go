package store

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared statements on SQLite.
//
// The SQLite driver compiles the SQL text of every call anew: on a
// ResendDCVEmail that was a third of the request's CPU time (the parser,
// not the query). So the store keeps one *sql.Stmt per SQL text, which
// database/sql prepares once per connection and reuses; statements run in a
// transaction borrow it with Tx.StmtContext. PostgreSQL needs none of this:
// pgx keeps its own per-connection cache of prepared statements.

// Bounds of the cache: the store's statements are a few dozen fixed texts;
// bulk INSERTs with hundreds of rows, or a text made for one call, are not
// worth keeping.
const (
	stmtCacheMax     = 256
	stmtCacheMaxText = 2048
)

type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// get returns the prepared statement of query, or nil when it is not
// cached (then the caller runs the text directly).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if len(query) > stmtCacheMaxText {
		return nil
	}
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= stmtCacheMax
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := c.db.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // the direct call reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		st.Close()
		return old
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st
}

// cachedDB runs the store's statements outside transactions. A statement
// run with Exec changes something (reads are Queries), so it goes into the
// group commit's queue like any transaction: it would otherwise wait for
// the write lock in SQLite's busy handler.
type cachedDB struct {
	*sql.DB
	c     *stmtCache
	group *groupCommit
	watch bool // reads stop when their caller's context ends (Reads.watched)
}

func (d cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := d.group.tx(ctx, func(tx *Tx) error {
		var err error
		res, err = tx.ex.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// Reads run without their caller's cancellation, once it is seen not to
// have ended, but for those of Reads.watched. For a context that can end,
// database/sql starts a goroutine and a context of its own on every query
// to watch it, and the driver watches it at every step: about 2.5 us of a
// login read's 9 us, and 8 % of GetMDCDomainDetails' CPU, which makes two
// such reads (BENCHMARKS.md, fifteenth round). What the watch would stop
// is a read by key of a few microseconds, or the wait for one of the
// pool's connections, which the same short reads free.
func (d cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !d.watch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ctx = context.WithoutCancel(ctx)
	}
	if st := d.c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.DB.QueryContext(ctx, query, args...)
}

func (d cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if !d.watch {
		if ctx.Err() != nil {
			return d.DB.QueryRowContext(ctx, query, args...) // a Row holding the context's error
		}
		ctx = context.WithoutCancel(ctx)
	}
	if st := d.c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.DB.QueryRowContext(ctx, query, args...)
}

// watched is q with its reads stopped when their caller's context ends,
// for the reads whose time grows with the data rather than with the
// answer: a search of the built-in mailbox scans every message, and the
// CRL lists every revoked certificate.
func (q Reads) watched() Reads {
	if d, ok := q.ex.(cachedDB); ok {
		d.watch = true
		q.ex = d
	}
	return q
}

// cachedTx runs them inside a transaction. The statement handle that
// Tx.StmtContext returns is closed with the transaction; the prepared
// statement on the connection stays for the next one.
type cachedTx struct {
	*sql.Tx
	c *stmtCache
}

func (t cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.c.get(ctx, query); st != nil {
		return t.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.c.get(ctx, query); st != nil {
		return t.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.get(ctx, query); st != nil {
		return t.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
