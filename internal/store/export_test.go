package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/dcvmail/dcvmail/internal/model"
)

// MigrateTo brings the schema up, or down, to exactly version v.
func (s *Store) MigrateTo(ctx context.Context, v int64) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if cur > v {
		_, err = p.DownTo(ctx, v)
	} else {
		_, err = p.UpTo(ctx, v)
	}
	return err
}

// Exec runs a statement outside the store's methods (migration tests).
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}

// Row runs a query outside the store's methods (migration tests, on
// schemas older than those methods know).
func (s *Store) Row(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, query, args...)
}

// TxExec runs a statement in a transaction of the store's own (on SQLite,
// a member of a group commit batch).
func (s *Store) TxExec(ctx context.Context, query string) error {
	return s.tx(ctx, func(tx *Tx) error {
		_, err := tx.ex.ExecContext(ctx, query)
		return err
	})
}

// RevokedSQL is RevokedCertificates' statement (its plan is tested).
const RevokedSQL = revokedSQL

// CodeLookupSQL is CodeLookup's statement (its plan is tested).
const CodeLookupSQL = codeLookupSQL

// Plan is the query plan of query, one line per step: SQLite's EXPLAIN
// QUERY PLAN details, or PostgreSQL's EXPLAIN.
func (s *Store) Plan(ctx context.Context, query string, args ...any) (string, error) {
	explain := "EXPLAIN "
	if s.d == sqliteDialect {
		explain = "EXPLAIN QUERY PLAN "
	}
	rows, err := s.db.QueryContext(ctx, explain+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if s.d == sqliteDialect { // id, parent, notused, detail
			var id, parent, notused int64
			err = rows.Scan(&id, &parent, &notused, &line)
		} else {
			err = rows.Scan(&line)
		}
		if err != nil {
			return "", err
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// OrderDeliveriesSQL is OrderDeliveries' statement (its plan is tested).
func (s *Store) OrderDeliveriesSQL() string { return orderDeliveriesSQL[s.d] }

// KeysWaiting counts the keys of TxFor with a transaction running or
// waiting on this node.
func (s *Store) KeysWaiting() int { return s.keyed.inUse() }

// KeyUsers counts the callers of TxFor holding or waiting for key.
func (s *Store) KeyUsers(key string) int {
	s.keyed.mu.Lock()
	defer s.keyed.mu.Unlock()
	if l := s.keyed.locks[key]; l != nil {
		return l.users
	}
	return 0
}

// HoldOffers makes PostgreSQL's offer writer look busy, so that address
// lists' offers queue (queued counts the calls); release writes them.
func (s *Store) HoldOffers() (queued func() int, release func()) {
	b := s.offers
	b.mu.Lock()
	b.writing = true
	b.mu.Unlock()
	queued = func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue)
	}
	return queued, func() { go b.write(context.Background()) }
}

// RecordOffersTogether records the offers of several calls in one
// transaction (BenchmarkRecordOffers: the upserts without their commits).
func (s *Store) RecordOffersTogether(ctx context.Context, calls [][]model.Offer) error {
	return s.tx(ctx, func(tx *Tx) error {
		for _, offers := range calls {
			if err := tx.RecordOffers(ctx, offers); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoginStateSQL is LoginStateOf's statement for n subjects (its plan is
// tested).
func (s *Store) LoginStateSQL(n int) string { return loginStateQuery(s.d, n) }

// CountForever runs a read by the store's reads, watched or not
// (Reads.watched), that would take hours, for a test to stop.
func (s *Store) CountForever(ctx context.Context, watched bool) error {
	q := s.Reads
	if watched {
		q = q.watched()
	}
	var n int64
	return q.ex.QueryRowContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000)
		SELECT COUNT(*) FROM c`).Scan(&n)
}
