package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// SetTerms records what an order bought; run it in the Tx that created the
// order.
func (q Queries) SetTerms(ctx context.Context, number int64, t model.Terms) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE orders SET product = $2, validity_days = $3, cost_cents = $4, unique_value = $5, payment_pending = $6,
		   test_order = $7, foreign_order_number = $8, org_validated_ms = $9, caa_status = $10, refunded_ms = $11
		 WHERE order_number = $1`,
		number, t.Product, t.Days, t.CostCents, t.UniqueValue, boolInt(t.PaymentPending), boolInt(t.Test),
		t.ForeignOrderNumber, nullMS(t.OrgValidated), t.CAAStatus, nullMS(t.Refunded))
	return affectedOne(res, err)
}

// TermsOf reads what an order bought.
func (q Reads) TermsOf(ctx context.Context, number int64) (model.Terms, error) {
	var t model.Terms
	var pending, test int
	var org, refunded sql.NullInt64
	err := q.ex.QueryRowContext(ctx,
		`SELECT product, validity_days, cost_cents, unique_value, payment_pending, test_order, foreign_order_number,
		        org_validated_ms, caa_status, refunded_ms
		 FROM orders WHERE order_number = $1`, number).Scan(
		&t.Product, &t.Days, &t.CostCents, &t.UniqueValue, &pending, &test, &t.ForeignOrderNumber, &org, &t.CAAStatus, &refunded)
	t.PaymentPending, t.Test, t.OrgValidated, t.Refunded = pending != 0, test != 0, nullTime(org), nullTime(refunded)
	return t, notFound(err)
}

// SetCAAStatus records the outcome of an order's last CAA check.
func (q Queries) SetCAAStatus(ctx context.Context, number int64, status string) error {
	res, err := q.ex.ExecContext(ctx, `UPDATE orders SET caa_status = $2 WHERE order_number = $1`, number, status)
	return affectedOne(res, err)
}

// SetOrgValidated records that an OV or EV order's organization is
// validated.
func (q Queries) SetOrgValidated(ctx context.Context, number int64, at time.Time) error {
	res, err := q.ex.ExecContext(ctx, `UPDATE orders SET org_validated_ms = $2 WHERE order_number = $1`, number, ms(at))
	return affectedOne(res, err)
}

// MarkRefunded records an order's refund, once: ErrNotFound when it was
// refunded already (a concurrent refund got there first).
func (q Queries) MarkRefunded(ctx context.Context, number int64, at time.Time) error {
	res, err := q.ex.ExecContext(ctx, `UPDATE orders SET refunded_ms = $2 WHERE order_number = $1 AND refunded_ms IS NULL`, number, ms(at))
	return affectedOne(res, err)
}

// BillingOf reads an account's billing.
func (q Reads) BillingOf(ctx context.Context, accountID int64) (model.Billing, error) {
	var b model.Billing
	var credit sql.NullInt64
	var pays int
	err := q.ex.QueryRowContext(ctx, `SELECT credit_cents, customer_pays FROM accounts WHERE id = $1`, accountID).Scan(&credit, &pays)
	b.Limited, b.CreditCents, b.CustomerPays = credit.Valid, credit.Int64, pays != 0
	return b, notFound(err)
}

// SetBilling sets an account's credit (nil: unlimited) and payment mode.
func (q Queries) SetBilling(ctx context.Context, accountID int64, b model.Billing) error {
	credit := sql.NullInt64{Int64: b.CreditCents, Valid: b.Limited}
	res, err := q.ex.ExecContext(ctx, `UPDATE accounts SET credit_cents = $2, customer_pays = $3 WHERE id = $1`,
		accountID, credit, boolInt(b.CustomerPays))
	return affectedOne(res, err)
}

// Charge takes cents from an account's credit if it has that much (an
// unlimited account always has); it reports whether it did.
func (q Queries) Charge(ctx context.Context, accountID, cents int64) (bool, error) {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE accounts SET credit_cents = credit_cents - $2 WHERE id = $1 AND (credit_cents IS NULL OR credit_cents >= $2)`,
		accountID, cents)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Refund gives cents back to an account's credit (nothing changes for an
// unlimited account).
func (q Queries) Refund(ctx context.Context, accountID, cents int64) error {
	_, err := q.ex.ExecContext(ctx,
		`UPDATE accounts SET credit_cents = credit_cents + $2 WHERE id = $1 AND credit_cents IS NOT NULL`, accountID, cents)
	return err
}

// ValidatedSince tells when an account last validated fqdn by email in
// one of its orders, if at or after since (the reuse of validation); zero
// when not.
func (q Reads) ValidatedSince(ctx context.Context, accountID int64, fqdn string, since time.Time) (time.Time, error) {
	var at sql.NullInt64
	err := q.ex.QueryRowContext(ctx,
		`SELECT MAX(d.validated_ms) FROM order_domains d JOIN orders o ON o.order_number = d.order_number
		 WHERE o.account_id = $1 AND d.fqdn = $2 AND d.validated_ms >= $3`, accountID, fqdn, ms(since)).Scan(&at)
	return nullTime(at), err
}

// ValidateDomainNow marks one domain validated without an email (a reused
// validation, or the operator's or test control's mark).
func (q Queries) ValidateDomainNow(ctx context.Context, number int64, position int, at time.Time) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE order_domains SET validated_ms = $3 WHERE order_number = $1 AND position = $2 AND validated_ms IS NULL`,
		number, position, ms(at))
	return affectedOne(res, err)
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(t), Valid: true}
}

// ResetDomains starts an order's DCV afresh (a replacement with a new key
// or other names): every domain awaits validation again, with no live
// email. With other names the domains are replaced by domains. The
// confirmations already recorded stay as evidence.
func (q Queries) ResetDomains(ctx context.Context, number int64, domains []model.Domain) error {
	if _, err := q.ex.ExecContext(ctx, `DELETE FROM order_domains WHERE order_number = $1`, number); err != nil {
		return err
	}
	for _, d := range domains {
		if _, err := q.ex.ExecContext(ctx,
			`INSERT INTO order_domains (order_number, position, domain_name, fqdn, dcv_method) VALUES ($1, $2, $3, $4, $5)`,
			number, d.Position, d.Name, d.FQDN, d.Method); err != nil {
			return err
		}
	}
	return nil
}
