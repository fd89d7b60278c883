package store

import (
	"context"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Writes on their own.
//
// A Store's holder writes through Tx, so that what belongs together commits
// together. The methods below are the exceptions, each a single statement
// (or an idempotent pair) that is whole by itself and on a path where a
// transaction's extra round trips would cost: they run on the database
// directly.

// direct is the store's statements, writes included, outside any
// transaction: for the store's own code and the methods below.
func (s *Store) direct() Queries { return Queries{s.Reads} }

// Capture stores a message the built-in mailbox received: one INSERT that
// a retried delivery repeats harmlessly; it wakes the mailbox's waiters at
// once, as if it had committed, so it never runs inside a Tx.
func (s *Store) Capture(ctx context.Context, m model.CapturedMail) error {
	return s.direct().Capture(ctx, m)
}

// Release hands an outbox worker's claimed deliveries back unsent: one
// UPDATE limited to the worker's own leases.
func (s *Store) Release(ctx context.Context, owner string, ids []int64, now time.Time) error {
	return s.direct().Release(ctx, owner, ids, now)
}

// FireFaultRule counts one hit of a test-control fault rule: one
// conditional UPDATE, on the request path of every request a rule matches.
func (s *Store) FireFaultRule(ctx context.Context, id int64) (bool, error) {
	return s.direct().FireFaultRule(ctx, id)
}

// EnsureSetting records value under name unless a value is there, and
// returns the value that is: an INSERT that does nothing on conflict, then
// a read. Nodes starting together agree on the first value written.
func (s *Store) EnsureSetting(ctx context.Context, name, value string) (string, error) {
	return s.direct().EnsureSetting(ctx, name, value)
}

// RecordOffers stores what GetDCVEmailAddressList returned: one upsert
// (offers.go), whole by itself. On SQLite it joins the group commit as a
// transaction does; on PostgreSQL, when the offers fit one statement, it
// runs without BEGIN and COMMIT (two of the call's four round trips),
// in one statement with the offers of the calls that came meanwhile
// (offerbatch.go).
func (s *Store) RecordOffers(ctx context.Context, offers []model.Offer) error {
	if s.offers != nil && len(offers) <= offersPerStatement {
		return s.offers.record(ctx, offers)
	}
	return s.tx(ctx, func(tx *Tx) error { return tx.RecordOffers(ctx, offers) })
}

// PruneOffers deletes address offers made in hours that ended by cutoff,
// at most a batch (housekeeping, outside the transactions it would
// otherwise wait on).
func (s *Store) PruneOffers(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.direct().PruneOffers(ctx, cutoff)
}

// PruneCodeAttempts deletes wrong-code counts older than cutoff
// (housekeeping, outside the transaction that holds a source's counts).
func (s *Store) PruneCodeAttempts(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.direct().PruneCodeAttempts(ctx, cutoff)
}

// MarkMailRead marks a message of the built-in mailbox read: one UPDATE.
func (s *Store) MarkMailRead(ctx context.Context, id int64) error {
	return s.direct().MarkMailRead(ctx, id)
}

// DeleteMail deletes messages of the built-in mailbox (none: all): one
// DELETE.
func (s *Store) DeleteMail(ctx context.Context, ids []int64) (int64, error) {
	return s.direct().DeleteMail(ctx, ids)
}

// ClearLoginFailures forgets the failed logins of the subjects (the
// operator's unlock): one DELETE; forgetting is whole by itself.
func (s *Store) ClearLoginFailures(ctx context.Context, subjects ...string) (int64, error) {
	return s.direct().ClearLoginFailures(ctx, subjects...)
}

// ClearLoginFailuresWithPrefix forgets the failed logins whose subject
// starts with prefix (a source's pairs with every login): one DELETE.
func (s *Store) ClearLoginFailuresWithPrefix(ctx context.Context, prefix string) (int64, error) {
	return s.direct().ClearLoginFailuresWithPrefix(ctx, prefix)
}

// The login lockout counts in the database on every login, each count a
// single statement (security.go): they stand alone.

// LockLogin locks subject until until if its count has reached threshold
// (see Queries.LockLogin).
func (s *Store) LockLogin(ctx context.Context, subject string, threshold int, now, until time.Time) (bool, error) {
	return s.direct().LockLogin(ctx, subject, threshold, now, until)
}

// EndLoginLocks clears locks that ended at or before now (see
// Queries.EndLoginLocks).
func (s *Store) EndLoginLocks(ctx context.Context, now time.Time) ([]model.LoginFailures, error) {
	return s.direct().EndLoginLocks(ctx, now)
}

// PruneLoginFailures deletes old counts that hold no lock (see
// Queries.PruneLoginFailures).
func (s *Store) PruneLoginFailures(ctx context.Context, expired time.Time) (int64, error) {
	return s.direct().PruneLoginFailures(ctx, expired)
}

// RecordLoginSource notes a successful login from a source.
func (s *Store) RecordLoginSource(ctx context.Context, accountID int64, source string, at time.Time) error {
	return s.direct().RecordLoginSource(ctx, accountID, source, at)
}

// PruneLoginSources deletes sources not seen since expired.
func (s *Store) PruneLoginSources(ctx context.Context, expired time.Time) (int64, error) {
	return s.direct().PruneLoginSources(ctx, expired)
}

// Direct is every statement of the store, writes included, outside any
// transaction: for tests and tools that set data up. The product's code
// never calls it (internal/model's layer test checks).
func (s *Store) Direct() Queries { return s.direct() }
