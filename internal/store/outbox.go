package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Enqueue adds a delivery of an email to the outbox, due at once.
func (q Queries) Enqueue(ctx context.Context, emailID int64, recipient, messageID string, now time.Time) (int64, error) {
	return q.insertID(ctx,
		`INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms)
		 VALUES ($1, $2, $3, 'pending', $4, $4)`,
		emailID, recipient, messageID, ms(now))
}

// Claim leases up to n due deliveries to owner until now+lease: another
// worker sees them again only if owner has not finished them by then (it
// crashed). On PostgreSQL, SKIP LOCKED lets several nodes claim at once
// without waiting on or duplicating each other.
func (q Queries) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]model.Delivery, error) {
	rows, err := q.ex.QueryContext(ctx,
		`UPDATE outbox SET lease_owner = $1, next_attempt_ms = $2, attempts = attempts + 1
		 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_ms <= $3
		              ORDER BY next_attempt_ms, id LIMIT $4`+q.d.skipLocked+`)
		 RETURNING id`,
		owner, ms(now.Add(lease)), ms(now), n)
	if err != nil {
		return nil, err
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, err
	}
	return q.deliveries(ctx, true, `o.id IN `+q.d.marks(0, len(ids)), ids...)
}

// deliveries reads deliveries with their messages; must says that a sealed
// message that cannot be opened is marked Unreadable (the worker must not
// send an empty message), rather than read as its subject to show.
func (q Reads) deliveries(ctx context.Context, must bool, where string, args ...any) ([]model.Delivery, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT o.id, o.email_id, e.order_number, o.recipient, o.message_id, o.state, o.attempts, o.next_attempt_ms,
		        o.last_reply, o.created_ms, o.sent_ms, b.subject, b.text_body, b.html_body, b.sealed, e.code_hash
		 FROM outbox o JOIN dcv_emails e ON e.id = o.email_id JOIN dcv_email_bodies b ON b.email_id = o.email_id WHERE `+where+` ORDER BY o.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Delivery
	for rows.Next() {
		var d model.Delivery
		var next, created int64
		var sent sql.NullInt64
		var sealed int64
		if err := rows.Scan(&d.ID, &d.EmailID, &d.OrderNumber, &d.Recipient, &d.MessageID, &d.State, &d.Attempts, &next,
			&d.LastReply, &created, &sent, &d.Subject, &d.Text, &d.HTML, &sealed, &d.CodeHash); err != nil {
			return nil, err
		}
		d.Unreadable = q.openBody(d.EmailID, sealed == 1, &d.Subject, &d.Text, &d.HTML, must)
		d.NextAttempt, d.Created, d.Sent = fromMS(next), fromMS(created), nullTime(sent)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveriesOfOrder lists every delivery of an order's emails, oldest first.
func (q Reads) DeliveriesOfOrder(ctx context.Context, orderNumber int64) ([]model.Delivery, error) {
	return q.deliveries(ctx, false, `e.order_number = $1`, orderNumber)
}

// PendingDeliveries counts deliveries not yet sent or given up.
func (q Reads) PendingDeliveries(ctx context.Context) (int, error) {
	var n int
	err := q.ex.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE state = 'pending'`).Scan(&n)
	return n, err
}

// FinishAttempt records an attempt and moves the delivery on: sent, failed
// (given up), or pending again at next. It changes nothing when owner no
// longer holds the lease, and reports whether it did.
func (q Queries) FinishAttempt(ctx context.Context, owner string, a model.Attempt, next time.Time) (bool, error) {
	state := model.DeliveryPending
	var sent sql.NullInt64
	switch a.Outcome {
	case model.OutcomeSent:
		state, sent = model.DeliverySent, sql.NullInt64{Int64: ms(a.At), Valid: true}
	case model.OutcomeFailed:
		state = model.DeliveryFailed
	}
	res, err := q.ex.ExecContext(ctx,
		`UPDATE outbox SET state = $3, next_attempt_ms = $4, last_reply = $5, sent_ms = $6, lease_owner = ''
		 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`,
		a.DeliveryID, owner, state, ms(next), a.Reply, sent)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	id, err := q.insertID(ctx,
		`INSERT INTO delivery_attempts (outbox_id, attempted_ms, outcome, reply, worker) VALUES ($1, $2, $3, $4, $5)`,
		a.DeliveryID, ms(a.At), a.Outcome, a.Reply, owner)
	if err != nil {
		return false, err
	}
	// The delivery names its newest attempt, for SendingsOf.
	_, err = q.ex.ExecContext(ctx, `UPDATE outbox SET last_attempt_id = $2 WHERE id = $1`, a.DeliveryID, id)
	return err == nil, err
}

// AttemptsOfOrder lists the delivery attempts of an order, oldest first.
func (q Reads) AttemptsOfOrder(ctx context.Context, orderNumber int64) ([]model.Attempt, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT a.outbox_id, a.attempted_ms, a.outcome, a.reply, a.worker FROM delivery_attempts a
		 JOIN outbox o ON o.id = a.outbox_id JOIN dcv_emails e ON e.id = o.email_id
		 WHERE e.order_number = $1 ORDER BY a.id`, orderNumber)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Attempt
	for rows.Next() {
		var a model.Attempt
		var at int64
		if err := rows.Scan(&a.DeliveryID, &at, &a.Outcome, &a.Reply, &a.Worker); err != nil {
			return nil, err
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Release hands claimed deliveries back unsent: they are due again at now,
// and the claim does not count as an attempt. Only owner's leases are
// released.
func (q Queries) Release(ctx context.Context, owner string, ids []int64, now time.Time) error {
	for _, id := range ids {
		if _, err := q.ex.ExecContext(ctx,
			`UPDATE outbox SET lease_owner = '', next_attempt_ms = $3, attempts = attempts - 1
			 WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`, id, owner, ms(now)); err != nil {
			return err
		}
	}
	return nil
}

// orderDeliveriesSQL is OrderDeliveries' statement on each database, made
// once rather than on every call; its plan is tested.
var orderDeliveriesSQL = map[*dialect]string{
	sqliteDialect:   orderDeliveriesOn(sqliteDialect),
	postgresDialect: orderDeliveriesOn(postgresDialect),
}

func orderDeliveriesOn(d *dialect) string {
	return `SELECT o.account_id, ` + joinedDomainColumns + `,
		        EXISTS (SELECT 1 FROM outbox WHERE email_id = d.current_email_id),
		        (SELECT MAX(sent_ms) FROM outbox WHERE email_id = d.current_email_id),
		        a.outbox_id, a.attempted_ms, a.outcome, a.reply, a.worker
		 FROM orders o
		 LEFT JOIN order_domains d ON d.order_number = o.order_number
		 ` + d.newestAttempt + `
		 WHERE o.order_number = $1
		 ORDER BY d.position`
}

// OrderDeliveries reads, in one statement, what GetMDCDomainDetails
// reports of an order of an account: its domains, in order, and a summary
// of the deliveries of each domain's live email, by email id (an email
// never queued is absent). GetMDCDomainDetails asks it on every call, so
// its cost must not grow with the deliveries an email has had: each live
// email costs three probes of the outbox's index by email (which holds
// each delivery's send time and newest attempt) and one attempt read by
// its id; no message is read. ErrNotFound covers a missing order and
// another account's alike.
func (q Reads) OrderDeliveries(ctx context.Context, accountID, number int64) ([]model.Domain, map[int64]model.Sendings, error) {
	rows, err := q.ex.QueryContext(ctx, orderDeliveriesSQL[q.d], number)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		domains []model.Domain
		found   bool
		owner   int64
	)
	sendings := map[int64]model.Sendings{}
	for rows.Next() {
		var (
			d                      joinedDomain
			queued                 bool
			sent, delivery, at     sql.NullInt64
			outcome, reply, worker sql.NullString
		)
		targets := append([]any{&owner}, d.targets()...)
		if err := rows.Scan(append(targets, &queued, &sent, &delivery, &at, &outcome, &reply, &worker)...); err != nil {
			return nil, nil, err
		}
		found = true
		dom, ok := d.domain(number)
		if !ok {
			continue // an order without domains
		}
		domains = append(domains, dom)
		if dom.CurrentEmailID == 0 || !queued {
			continue
		}
		sg := model.Sendings{Queued: true, LastSent: nullTime(sent)}
		if delivery.Valid {
			sg.Last = model.Attempt{DeliveryID: delivery.Int64, At: fromMS(at.Int64),
				Outcome: model.Outcome(outcome.String), Reply: reply.String, Worker: worker.String}
		}
		sendings[dom.CurrentEmailID] = sg
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// The account is compared here, not in the WHERE clause, as in
	// OrderState (a plan made anew on every call otherwise).
	if !found || owner != accountID {
		return nil, nil, model.ErrNotFound
	}
	return domains, sendings, nil
}

// inList is the parenthesized parameters of an IN list of values, in the
// dialect's marks (see dialect.numbered), the first of them number
// first+1, and the values as arguments.
func inList[T any](d *dialect, first int, values []T) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return d.marks(first, len(values)), args
}
