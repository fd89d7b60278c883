package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dcvmail/dcvmail/internal/model"
)

// This file keeps what the control API (docs/control.md) adds: accounts'
// credit terms, the evidence of validations made by a test control, fault
// rules, and the wiping of a reset.

// AccountTerms reads the terms of an account.
func (q Reads) AccountTerms(ctx context.Context, accountID int64) (model.AccountTerms, error) {
	var credit sql.NullInt64
	var pays int
	err := q.ex.QueryRowContext(ctx, `SELECT credit_cents, customer_pays FROM accounts WHERE id = $1`, accountID).Scan(&credit, &pays)
	t := model.AccountTerms{CustomerPays: pays != 0}
	if credit.Valid {
		t.CreditCents = &credit.Int64
	}
	return t, notFound(err)
}

// SetAccountTerms replaces the terms of an account.
func (q Queries) SetAccountTerms(ctx context.Context, accountID int64, t model.AccountTerms) error {
	var credit any
	if t.CreditCents != nil {
		credit = *t.CreditCents
	}
	res, err := q.ex.ExecContext(ctx, `UPDATE accounts SET credit_cents = $2, customer_pays = $3 WHERE id = $1`,
		accountID, credit, boolInt(t.CustomerPays))
	return affectedOne(res, err)
}

// Accounts lists every account by login.
func (q Reads) Accounts(ctx context.Context) ([]model.Account, error) {
	rows, err := q.ex.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY login`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LoginLocks lists the locks in force at now with the label (an account's
// login, or a source) and subject they were counted under.
func (q Reads) LoginLocks(ctx context.Context, now time.Time) ([]model.LoginFailures, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+loginFailureColumns+` FROM login_failures WHERE locked_until_ms > $1`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.LoginFailures
	for rows.Next() {
		f, err := scanLoginFailures(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ValidateByControl marks the domains of an order at the given positions
// (all when none) validated at at, by a test control, whatever their
// method; domains validated already keep their evidence. It returns how
// many it marked.
func (q Queries) ValidateByControl(ctx context.Context, number int64, positions []int, at time.Time) (int64, error) {
	query := `UPDATE order_domains SET validated_ms = $2, validated_by = $3
		 WHERE order_number = $1 AND validated_ms IS NULL`
	args := []any{number, ms(at), model.ValidatedByControl}
	if len(positions) > 0 {
		query += ` AND position IN (`
		for i, p := range positions {
			if i > 0 {
				query += ", "
			}
			query += "$" + strconv.Itoa(len(args)+1)
			args = append(args, p)
		}
		query += `)`
	}
	res, err := q.ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetOrganizationValidated records the organization validation of an
// order, by whom; one made already is kept.
func (q Queries) SetOrganizationValidated(ctx context.Context, number int64, at time.Time, by string) error {
	_, err := q.ex.ExecContext(ctx,
		`UPDATE orders SET org_validated_ms = $2, org_validated_by = $3 WHERE order_number = $1 AND org_validated_ms IS NULL`,
		number, ms(at), by)
	return err
}

// EvidenceOf reads the Evidence of an order.
func (q Reads) EvidenceOf(ctx context.Context, number int64) (model.Evidence, error) {
	ev := model.Evidence{ValidatedBy: map[int]string{}}
	var org sql.NullInt64
	if err := q.ex.QueryRowContext(ctx, `SELECT org_validated_ms, org_validated_by FROM orders WHERE order_number = $1`, number).
		Scan(&org, &ev.OrgValidatedBy); err != nil {
		return ev, notFound(err)
	}
	ev.OrgValidated = nullTime(org)
	rows, err := q.ex.QueryContext(ctx, `SELECT position, validated_by FROM order_domains WHERE order_number = $1`, number)
	if err != nil {
		return ev, err
	}
	defer rows.Close()
	for rows.Next() {
		var pos int
		var by string
		if err := rows.Scan(&pos, &by); err != nil {
			return ev, err
		}
		ev.ValidatedBy[pos] = by
	}
	return ev, rows.Err()
}

// AddFaultRule stores a rule and returns its id.
func (q Queries) AddFaultRule(ctx context.Context, r model.FaultRule) (int64, error) {
	var id int64
	err := q.ex.QueryRowContext(ctx,
		`INSERT INTO fault_rules (rule, times, fired, created_ms) VALUES ($1, $2, 0, $3) RETURNING id`,
		r.Rule, r.Times, ms(r.Created)).Scan(&id)
	return id, err
}

// FaultRules lists the rules, oldest first.
func (q Reads) FaultRules(ctx context.Context) ([]model.FaultRule, error) {
	rows, err := q.ex.QueryContext(ctx, `SELECT id, rule, times, fired, created_ms FROM fault_rules ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.FaultRule
	for rows.Next() {
		var r model.FaultRule
		var created int64
		if err := rows.Scan(&r.ID, &r.Rule, &r.Times, &r.Fired, &created); err != nil {
			return nil, err
		}
		r.Created = fromMS(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// FireFaultRule counts one hit of a rule, unless it has used up its times
// (on any node) or is gone; it tells whether the hit counted.
func (q Queries) FireFaultRule(ctx context.Context, id int64) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE fault_rules SET fired = fired + 1 WHERE id = $1 AND (times = 0 OR fired < times)`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteFaultRules deletes the rule with id, or every rule with id 0; it
// tells how many it deleted.
func (q Queries) DeleteFaultRules(ctx context.Context, id int64) (int64, error) {
	var res sql.Result
	var err error
	if id == 0 {
		res, err = q.ex.ExecContext(ctx, `DELETE FROM fault_rules`)
	} else {
		res, err = q.ex.ExecContext(ctx, `DELETE FROM fault_rules WHERE id = $1`, id)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// resetTables are wiped by Reset, children before parents.
var resetTables = []string{
	"confirmations", "code_attempts", "mailbox", "delivery_attempts", "outbox",
	"order_domains", "dcv_email_bodies", "dcv_emails", "certificates", "orders", "address_offers",
	"login_sources", "login_failures", "template_grants", "accounts", "fault_rules",
}

// Reset wipes accounts, orders, emails, mail, counters, lockouts and fault
// rules, and returns the test clock to the real time (ClockOffsetSetting),
// in one transaction; it keeps the keys (the test CA's too), the other
// settings and the templates (a template granted only to wiped accounts is
// then open to none until granted again).
//
// On PostgreSQL a write that commits between two of its deletes, such as
// the delivery worker recording an attempt on an outbox row the reset has
// not yet reached, makes a later delete break a foreign key (or meet a
// deadlock); the transaction is then rolled back whole and run again, at
// most resetTries times in all.
func (s *Store) Reset(ctx context.Context) error {
	for try := 1; ; try++ {
		err := s.tx(ctx, func(tx *Tx) error { return reset(ctx, tx) })
		if err == nil || try == resetTries || !raced(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
}

// resetTries bounds the runs of Reset's transaction.
const resetTries = 5

// raced tells whether err is PostgreSQL's answer to a transaction that
// met another's writes: a foreign key that a row committed meanwhile
// breaks (23503), a deadlock (40P01) or a serialization failure (40001).
func raced(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23503", "40P01", "40001":
		return true
	}
	return false
}

// reset is one run of Reset's transaction.
func reset(ctx context.Context, tx *Tx) error {
	for _, t := range resetTables {
		if _, err := tx.ex.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return err
		}
	}
	if err := tx.setCounter(ctx, "order_number", 10000000); err != nil {
		return err
	}
	if err := tx.setCounter(ctx, "certificate_id", 100000000); err != nil {
		return err
	}
	_, err := tx.ex.ExecContext(ctx, `DELETE FROM settings WHERE name = $1`, ClockOffsetSetting)
	return err
}

// ClockOffsetSetting names the test clock's offset (docs/control.md, "The
// clock"), in nanoseconds.
const ClockOffsetSetting = "test_clock_offset_ns"

// ClockOffset reads the test clock's offset; 0 when none is set.
func (q Reads) ClockOffset(ctx context.Context) (time.Duration, error) {
	v, err := q.Setting(ctx, ClockOffsetSetting)
	if err != nil || v == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return time.Duration(n), err
}

// ChangeClockOffset moves the test clock's offset in one transaction: change
// gets the stored offset and returns the new one, or false to leave it. It
// returns the offset it stored and whether it did.
func (s *Store) ChangeClockOffset(ctx context.Context, change func(cur time.Duration) (time.Duration, bool)) (time.Duration, bool, error) {
	var next time.Duration
	var ok bool
	err := s.tx(ctx, func(tx *Tx) error {
		cur, err := tx.ClockOffset(ctx)
		if err != nil {
			return err
		}
		if next, ok = change(cur); !ok {
			return nil
		}
		return tx.SetClockOffset(ctx, next)
	})
	return next, ok, err
}

// SetClockOffset stores the test clock's offset.
func (q Queries) SetClockOffset(ctx context.Context, d time.Duration) error {
	return q.SetSetting(ctx, ClockOffsetSetting, strconv.FormatInt(int64(d), 10))
}
