package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// RecordConfirmation stores the evidence of a confirmation.
func (q Queries) RecordConfirmation(ctx context.Context, c model.Confirmation) (int64, error) {
	var id int64
	err := q.ex.QueryRowContext(ctx, recordConfirmationSQL+` RETURNING id`, confirmationArgs(c)...).Scan(&id)
	return id, err
}

// recordConfirmationSQL inserts a confirmation from confirmationArgs.
const recordConfirmationSQL = `INSERT INTO confirmations (order_number, email_id, confirmed_ms, domains, client_ip, peer_addr, user_agent)
 VALUES ($1, $2, $3, $4, $5, $6, $7)`

// confirmationArgs are the parameters of recordConfirmationSQL; the first
// three are also validateDomainsSQL's.
func confirmationArgs(c model.Confirmation) []any {
	return []any{c.OrderNumber, c.EmailID, ms(c.At), strings.Join(c.Domains, " "), c.ClientIP, c.PeerAddr, c.UserAgent}
}

// ConfirmDomains keeps what a right code does: it validates the domains of
// c.OrderNumber whose live email is c.EmailID (ValidateDomains) and records
// c as the evidence (RecordConfirmation). It returns how many domains it
// validated. On PostgreSQL the two are one statement, so the page's POST,
// which holds its source's count locked until it commits, makes one round
// trip fewer; SQLite has no round trips to save.
func (q Queries) ConfirmDomains(ctx context.Context, c model.Confirmation) (int64, error) {
	if q.d == sqliteDialect {
		n, err := q.ValidateDomains(ctx, c.OrderNumber, c.EmailID, c.At)
		if err != nil {
			return 0, err
		}
		_, err = q.RecordConfirmation(ctx, c)
		return n, err
	}
	var n int64
	err := q.ex.QueryRowContext(ctx,
		`WITH v AS (`+validateDomainsSQL+` RETURNING 1), c AS (`+recordConfirmationSQL+`) SELECT COUNT(*) FROM v`,
		confirmationArgs(c)...).Scan(&n)
	return n, err
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

// CountCodeAttempts counts one more submitted code against each subject,
// in one statement, and returns the counts in the order given (the
// subjects must differ). A window that started at or before expired is
// over, and so is a count made under another epoch (a new email's code is
// judged on its own): the count starts again at 1 with a window starting
// at now. On PostgreSQL the row locks it takes, held to the caller's
// commit, serialize the codes of one subject on every node (SQLite's one
// writer already does).
func (q Queries) CountCodeAttempts(ctx context.Context, subjects []model.CodeSubject, now, expired time.Time) ([]model.CodeAttempts, error) {
	return q.codeAttempts(ctx, subjects, now, expired, `
	   failures = CASE WHEN code_attempts.window_start_ms <= $2 OR code_attempts.epoch <> excluded.epoch THEN 1 ELSE code_attempts.failures + 1 END,
	   window_start_ms = CASE WHEN code_attempts.window_start_ms <= $2 OR code_attempts.epoch <> excluded.epoch THEN $1 ELSE code_attempts.window_start_ms END,
	   epoch = excluded.epoch`, 1, ms(expired))
}

// HoldCodeAttempts reads the counts CountCodeAttempts would add to, without
// counting, in the order given: a subject without a count, or whose window
// is over or whose epoch is another, reads as no failures in a window
// starting at now. It holds the subjects as CountCodeAttempts does, so that
// a right code, which is not counted, still waits for the codes of its
// subjects judged before it: on PostgreSQL by an upsert that changes no
// count (a missing row is made with none, and its insert is what a second
// node's waits for); on SQLite by a read, its one writer being the lock.
func (q Queries) HoldCodeAttempts(ctx context.Context, subjects []model.CodeSubject, now, expired time.Time) ([]model.CodeAttempts, error) {
	if q.d == sqliteDialect {
		in, args := inList(q.d, 0, subjectNames(subjects))
		return q.scanCodeAttempts(ctx, subjects, now, expired,
			`SELECT subject, failures, window_start_ms, epoch FROM code_attempts WHERE subject IN `+in, args, false)
	}
	return q.codeAttempts(ctx, subjects, now, expired, ` failures = code_attempts.failures`, 0)
}

// codeAttempts upserts a count for each subject, made with failures in a
// window from now ($1) when it is new and changed by set, whose parameters
// are setArgs ($2...), when it is not, and returns the counts as
// scanCodeAttempts reads them.
func (q Queries) codeAttempts(ctx context.Context, subjects []model.CodeSubject, now, expired time.Time, set string, failures int, setArgs ...any) ([]model.CodeAttempts, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	var b strings.Builder
	args := make([]any, 0, 1+len(setArgs)+3*len(subjects))
	args = append(append(args, ms(now)), setArgs...)
	b.WriteString(`INSERT INTO code_attempts (subject, order_number, epoch, window_start_ms, failures) VALUES `)
	for i, s := range subjects {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $1, %d)", n+1, n+2, n+3, failures)
		args = append(args, s.Subject, s.OrderNumber, s.Epoch)
	}
	b.WriteString(` ON CONFLICT (subject) DO UPDATE SET` + set + `
	 RETURNING subject, failures, window_start_ms, epoch`)
	return q.scanCodeAttempts(ctx, subjects, now, expired, b.String(), args, true)
}

// scanCodeAttempts runs query, which returns (subject, failures,
// window_start_ms, epoch) rows, and returns the count of each subject in
// the order given; one absent (an error when every subject must have a
// row, as an upsert's), or whose window started at or before expired, or
// made under another epoch, is no failures from now.
func (q Queries) scanCodeAttempts(ctx context.Context, subjects []model.CodeSubject, now, expired time.Time, query string, args []any, everyRow bool) ([]model.CodeAttempts, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	rows, err := q.ex.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		model.CodeAttempts
		epoch int64
	}
	got := make(map[string]row, len(subjects))
	for rows.Next() {
		var subject string
		var r row
		var start int64
		if err := rows.Scan(&subject, &r.Failures, &start, &r.epoch); err != nil {
			return nil, err
		}
		r.WindowStart = fromMS(start)
		got[subject] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]model.CodeAttempts, len(subjects))
	for i, s := range subjects {
		r, ok := got[s.Subject]
		if !ok && everyRow {
			return nil, fmt.Errorf("store: code attempts: no count returned for %q", s.Subject)
		}
		if !ok || r.epoch != s.Epoch || !r.WindowStart.After(expired) {
			r.CodeAttempts = model.CodeAttempts{WindowStart: now}
		}
		out[i] = r.CodeAttempts
	}
	return out, nil
}

func subjectNames(subjects []model.CodeSubject) []string {
	names := make([]string, len(subjects))
	for i, s := range subjects {
		names[i] = s.Subject
	}
	return names
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

// codeLookupSQL reads an order's newest email from the last entry of
// dcv_emails_order_id (migration 00017), and the email with a code's hash
// by that column's unique index, kept only when it is the order's.
const codeLookupSQL = `SELECT (SELECT MAX(n.id) FROM dcv_emails n WHERE n.order_number = o.order_number),
        e.id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms
 FROM orders o LEFT JOIN dcv_emails e ON e.order_number = o.order_number AND e.code_hash = $2
 WHERE o.order_number = $1`

// CodeLookup tells whether an order exists, the id of its newest DCV email
// (0 when none was sent), and which of its emails has the code's keyed
// hash, in one statement: the page's POST asks all three first. The
// email's message is not read: a confirmation judges by the email's id,
// hash and expiry, and reading the message cost a join and, sealed, its
// decryption (a sixth of the POST's CPU).
func (q Reads) CodeLookup(ctx context.Context, orderNumber int64, codeHash string) (model.CodeLookup, error) {
	var (
		newest, id, tmpl, created, expires sql.NullInt64
		recipient, hash                    sql.NullString
	)
	err := q.ex.QueryRowContext(ctx, codeLookupSQL, orderNumber, codeHash).
		Scan(&newest, &id, &recipient, &tmpl, &hash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return model.CodeLookup{}, nil
	} else if err != nil {
		return model.CodeLookup{}, err
	}
	l := model.CodeLookup{Exists: true, Epoch: newest.Int64}
	if id.Valid {
		l.Email = model.Email{ID: id.Int64, OrderNumber: orderNumber, Recipient: recipient.String, TemplateID: tmpl.Int64,
			CodeHash: hash.String, Created: fromMS(created.Int64), Expires: fromMS(expires.Int64)}
	}
	return l, nil
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
