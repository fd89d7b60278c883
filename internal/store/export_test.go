package store

import "context"

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

// CodeEpochSQL is CodeEpoch's statement (its plan is tested).
const CodeEpochSQL = codeEpochSQL

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
