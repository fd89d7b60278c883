package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// RecordConfirmation stores the evidence of a confirmation.
func (q Queries) RecordConfirmation(ctx context.Context, c model.Confirmation) (int64, error) {
	var id int64
	err := q.ex.QueryRowContext(ctx,
		`INSERT INTO confirmations (order_number, email_id, domains, client_ip, peer_addr, user_agent, confirmed_ms)
		 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		c.OrderNumber, c.EmailID, strings.Join(c.Domains, " "), c.ClientIP, c.PeerAddr, c.UserAgent, ms(c.At)).Scan(&id)
	return id, err
}

// ConfirmationsOfOrder lists an order's confirmations, oldest first.
func (q Reads) ConfirmationsOfOrder(ctx context.Context, orderNumber int64) ([]model.Confirmation, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT id, order_number, email_id, domains, client_ip, peer_addr, user_agent, confirmed_ms
		 FROM confirmations WHERE order_number = $1 ORDER BY id`, orderNumber)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Confirmation
	for rows.Next() {
		var c model.Confirmation
		var domains string
		var at int64
		if err := rows.Scan(&c.ID, &c.OrderNumber, &c.EmailID, &domains, &c.ClientIP, &c.PeerAddr, &c.UserAgent, &at); err != nil {
			return nil, err
		}
		c.Domains, c.At = strings.Fields(domains), fromMS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountCodeAttempt counts one more submitted code against subject and
// returns the count with it. orderNumber is the order the subject is
// about, or 0 for a source's count across all orders; epoch is the id of
// the order's newest DCV email (0 for a source). A window that started at
// or before expired is over, and so is a count made under another epoch
// (a new email's code is judged on its own): the count starts again at 1
// with a window starting at now. The count
// happens before the code is judged, in the caller's transaction, so that
// on PostgreSQL the row lock it takes serializes the codes of one subject
// on every node (SQLite's one writer already does); a code that turns out
// right is taken back with ForgiveCodeAttempts.
func (q Queries) CountCodeAttempt(ctx context.Context, subject string, orderNumber, epoch int64, now, expired time.Time) (model.CodeAttempts, error) {
	var a model.CodeAttempts
	var start int64
	err := q.ex.QueryRowContext(ctx,
		`INSERT INTO code_attempts (subject, order_number, epoch, window_start_ms, failures) VALUES ($1, $2, $3, $4, 1)
		 ON CONFLICT (subject) DO UPDATE SET
		   failures = CASE WHEN code_attempts.window_start_ms <= $5 OR code_attempts.epoch <> $3 THEN 1 ELSE code_attempts.failures + 1 END,
		   window_start_ms = CASE WHEN code_attempts.window_start_ms <= $5 OR code_attempts.epoch <> $3 THEN $4 ELSE code_attempts.window_start_ms END,
		   epoch = $3
		 RETURNING failures, window_start_ms`,
		subject, orderNumber, epoch, ms(now), ms(expired)).Scan(&a.Failures, &start)
	a.WindowStart = fromMS(start)
	return a, err
}

// ForgiveCodeAttempts takes back the counts of a code that was right, in
// one statement.
func (q Queries) ForgiveCodeAttempts(ctx context.Context, subjects ...string) error {
	if len(subjects) == 0 {
		return nil
	}
	in, args := inList(subjects)
	_, err := q.ex.ExecContext(ctx,
		`UPDATE code_attempts SET failures = failures - 1 WHERE subject IN (`+in+`) AND failures > 0`, args...)
	return err
}

// CodeAttemptsOf reads the count of a subject without changing it; zero
// when there is none.
func (q Reads) CodeAttemptsOf(ctx context.Context, subject string) (model.CodeAttempts, error) {
	var a model.CodeAttempts
	var start int64
	err := q.ex.QueryRowContext(ctx,
		`SELECT failures, window_start_ms FROM code_attempts WHERE subject = $1`, subject).Scan(&a.Failures, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return model.CodeAttempts{}, nil
	}
	a.WindowStart = fromMS(start)
	return a, err
}

// codeEpochSQL reads the newest email of an order from the last entry of
// dcv_emails_order_id (migration 00017).
const codeEpochSQL = `SELECT (SELECT MAX(e.id) FROM dcv_emails e WHERE e.order_number = o.order_number)
 FROM orders o WHERE o.order_number = $1`

// CodeEpoch tells whether an order exists and the id of its newest DCV
// email (0 when none was sent), in one statement.
func (q Reads) CodeEpoch(ctx context.Context, orderNumber int64) (exists bool, epoch int64, err error) {
	var last sql.NullInt64
	err = q.ex.QueryRowContext(ctx, codeEpochSQL, orderNumber).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, 0, nil
	}
	return err == nil, last.Int64, err
}

// PruneCodeAttempts deletes up to 100 counts whose window started at or
// before expired, and returns how many. On PostgreSQL it skips rows that
// another transaction holds, so it never waits.
func (q Queries) PruneCodeAttempts(ctx context.Context, expired time.Time) (int64, error) {
	res, err := q.ex.ExecContext(ctx,
		`DELETE FROM code_attempts WHERE subject IN
		   (SELECT subject FROM code_attempts WHERE window_start_ms <= $1 LIMIT 100`+q.d.skipLocked+`)`,
		ms(expired))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
