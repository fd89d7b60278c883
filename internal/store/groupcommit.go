package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Group commit on SQLite.
//
// SQLite has one writer, and with synchronous=FULL every COMMIT waits for
// the disk (an fsync of the write-ahead log). One transaction per request
// therefore caps the whole service at the disk's flush rate, and a queue of
// writers waiting in SQLite's busy handler (which sleeps 1, 2, 5, ... up to
// 100 ms between tries) turns that cap into tens of milliseconds of latency.
//
// So on SQLite, Store.Tx queues the transaction in this process, and the
// transactions that queued while the previous commit was running go into
// the database as one: each runs inside its own SAVEPOINT in arrival order
// (exactly the order a serial execution would have), a failing one is
// rolled back to its savepoint alone, and one COMMIT, one fsync, makes all
// of them durable. Nobody's Tx returns before that COMMIT has returned, so
// an answer still means "on disk"; a failed COMMIT fails every member.
//
// The first caller to find no batch running leads: it runs the batch in its
// own goroutine and, when it is done, hands the lead to the first caller
// that queued meanwhile. No goroutine of its own, nothing to stop.

// maxBatch bounds the members of one batch, so that a long queue is served
// in several commits rather than one long one.
const maxBatch = 128

// groupCommit is the queue of one Store's transactions.
type groupCommit struct {
	db    *sql.DB
	d     *dialect
	stmts *stmtCache
	seal  *sealBox

	mu      sync.Mutex
	queue   []*member
	running bool          // a leader is running a batch
	oldest  oldestWaiting // when queue[0] came (backlog.go)

	// conn is the connection every batch runs on, taken from the pool by
	// the first batch and kept (only the batch's leader touches it).
	conn *sql.Conn

	counts groupCounts // for GroupCommitStats (opsstats.go)
}

// member is one caller's transaction.
type member struct {
	ctx    context.Context
	fn     func(*Tx) error
	queued int64 // monoNow when it came

	err      error
	panicked bool
	panicVal any
	done     chan bool // true: lead the next batch; false: finished
}

func (g *groupCommit) tx(ctx context.Context, fn func(*Tx) error) error {
	m := &member{ctx: ctx, fn: fn, queued: monoNow(), done: make(chan bool, 1)}
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.oldest.set(m.queued)
	}
	g.queue = append(g.queue, m)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if !lead {
		lead = <-m.done
	}
	if lead {
		g.mu.Lock()
		n := min(len(g.queue), maxBatch)
		batch := make([]*member, n)
		copy(batch, g.queue)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		if len(g.queue) > 0 {
			g.oldest.set(g.queue[0].queued)
		} else {
			g.oldest.set(0)
		}
		g.mu.Unlock()

		g.commit(batch)

		g.mu.Lock()
		if len(g.queue) > 0 {
			g.queue[0].done <- true
		} else {
			g.running = false
		}
		g.mu.Unlock()
		for _, o := range batch {
			if o != m {
				o.done <- false
			}
		}
	}
	if m.panicked {
		panic(m.panicVal)
	}
	return m.err
}

// savepoint names the savepoint of each member; they never nest.
const savepoint = "dcvmail_member"

// commit runs a batch as one transaction and sets each member's outcome.
func (g *groupCommit) commit(batch []*member) {
	sqlTx, err := g.begin()
	if err != nil {
		g.counts.count(0, 0, true)
		for _, m := range batch {
			m.err = fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	ex := cachedTx{sqlTx, g.stmts}
	tx := &Tx{Queries: Queries{Reads{ex: detached{ex}, d: g.d, seal: g.seal}}}
	single := len(batch) == 1
	var succeeded []*member
	var broken error // the shared transaction can no longer be trusted
	exec := func(stmt string) error {
		_, err := ex.ExecContext(context.Background(), stmt)
		return err
	}
	for _, m := range batch {
		if err := m.ctx.Err(); err != nil {
			m.err = fmt.Errorf("store: begin: %w", err)
			continue
		}
		if !single {
			if broken = exec("SAVEPOINT " + savepoint); broken != nil {
				break
			}
		}
		if m.run(tx) {
			if !single {
				if broken = exec("RELEASE " + savepoint); broken != nil {
					break
				}
			}
			succeeded = append(succeeded, m)
			continue
		}
		if single {
			break
		}
		if broken = exec("ROLLBACK TO " + savepoint); broken != nil {
			break
		}
		if broken = exec("RELEASE " + savepoint); broken != nil {
			break
		}
	}
	if broken != nil {
		sqlTx.Rollback()
		g.counts.count(0, 0, true)
		for _, m := range batch {
			if m.err == nil && !m.panicked {
				m.err = fmt.Errorf("store: batched transaction: %w", broken)
			}
		}
		return
	}
	if len(succeeded) == 0 {
		sqlTx.Rollback()
		g.counts.count(0, len(batch), false)
		return
	}
	if err := sqlTx.Commit(); err != nil {
		g.counts.count(0, 0, true)
		for _, m := range succeeded {
			m.err = fmt.Errorf("store: commit: %w", err)
		}
		return
	}
	g.counts.count(len(succeeded), len(batch)-len(succeeded), false)
}

// begin opens a batch's transaction on the writer's own connection.
//
// SQLite drops a connection's page cache whenever the database changed
// since that connection's last transaction. Batches that took whichever
// connection the pool had free therefore started on a cold cache after
// every commit made on another connection, and read their pages from the
// file again; on one connection kept for the writer, each batch finds the
// pages the previous one left.
func (g *groupCommit) begin() (*sql.Tx, error) {
	ctx := context.Background()
	if g.conn == nil {
		c, err := g.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		g.conn = c
	}
	tx, err := g.conn.BeginTx(ctx, nil)
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		// A connection the driver gave up on is closed, and the next batch
		// takes a new one; any other error (a busy database) keeps it.
		g.conn.Close()
		g.conn = nil
	}
	return tx, err
}

// close gives the writer's connection back before the pool closes; the
// store's transactions have ended by then.
func (g *groupCommit) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conn != nil && !g.running {
		g.conn.Close()
		g.conn = nil
	}
}

// run calls the member's function and reports whether it succeeded; a
// panic is kept to be raised again in the member's own goroutine.
func (m *member) run(tx *Tx) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			m.panicked, m.panicVal, ok = true, p, false
		}
	}()
	m.err = m.fn(tx)
	return m.err == nil
}

// detached runs a batch's statements without their caller's cancellation:
// SQLite answers an interrupted write by rolling back the whole transaction,
// which other callers share. A caller whose context ends while it waits in
// the queue is not run at all.
type detached struct{ tx execer }

func (d detached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.tx.ExecContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.tx.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

// Claim on the Store runs in a transaction of its own, so that on SQLite
// the worker's claim queues and commits with the other writers (an UPDATE
// ... RETURNING is a Query, which cachedDB does not queue).
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]model.Delivery, error) {
	var out []model.Delivery
	err := s.tx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.Claim(ctx, owner, now, lease, n)
		return err
	})
	return out, err
}
