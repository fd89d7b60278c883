package store

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// What operators watch of the store (docs/operations.md): the outbox
// backlog, the connection pool and SQLite's group commit. These only read.

// Backlog is the outbox's undelivered part.
type Backlog struct {
	Pending int       // deliveries neither sent nor given up
	Oldest  time.Time // when the oldest of them was queued; zero when none
}

// OutboxBacklog counts the pending deliveries and finds the oldest. It uses
// the outbox_due index (state first), so it reads only pending rows.
func (q Reads) OutboxBacklog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var oldest sql.NullInt64
	err := q.ex.QueryRowContext(ctx,
		`SELECT COUNT(*), MIN(created_ms) FROM outbox WHERE state = 'pending'`).Scan(&b.Pending, &oldest)
	b.Oldest = nullTime(oldest)
	return b, err
}

// DB is the connection pool, for its statistics (sql.DBStats) only:
// statements go through Queries and Tx.
func (s *Store) DB() *sql.DB { return s.db }

// GroupCommitStats are the counters of SQLite's group commit
// (groupcommit.go) since the store was opened.
type GroupCommitStats struct {
	Commits      uint64 // shared transactions committed
	Transactions uint64 // callers' transactions that went into them
	RolledBack   uint64 // callers' transactions left out of a commit (their fn failed, or their context ended first)
	Failed       uint64 // shared transactions whose BEGIN, savepoint or COMMIT failed
}

// GroupCommitStats reads the counters; ok is false on PostgreSQL, which has
// no group commit.
func (s *Store) GroupCommitStats() (GroupCommitStats, bool) {
	if s.group == nil {
		return GroupCommitStats{}, false
	}
	c := &s.group.counts
	return GroupCommitStats{
		Commits:      c.commits.Load(),
		Transactions: c.transactions.Load(),
		RolledBack:   c.rolledBack.Load(),
		Failed:       c.failed.Load(),
	}, true
}

// groupCounts are GroupCommitStats' live counters.
type groupCounts struct {
	commits, transactions, rolledBack, failed atomic.Uint64
}

// count records the outcome of one batch.
func (c *groupCounts) count(committed, rolledBack int, failed bool) {
	if failed {
		c.failed.Add(1)
		return
	}
	if committed > 0 {
		c.commits.Add(1)
		c.transactions.Add(uint64(committed))
	}
	c.rolledBack.Add(uint64(rolledBack))
}
