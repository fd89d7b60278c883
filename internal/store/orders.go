package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

const orderColumns = `order_number, account_id, base_order_number, status, template_id, resend_tat_ms, created_ms`

func scanOrder(row interface{ Scan(...any) error }) (model.Order, error) {
	var o model.Order
	var tmpl sql.NullInt64
	var tat, created int64
	err := row.Scan(&o.Number, &o.AccountID, &o.BaseNumber, &o.Status, &tmpl, &tat, &created)
	o.TemplateID, o.ResendTAT, o.Created = tmpl.Int64, fromMS(tat), fromMS(created)
	return o, notFound(err)
}

// NextOrderNumber allocates an order number.
func (q Queries) NextOrderNumber(ctx context.Context) (int64, error) {
	return q.next(ctx, "order_number")
}

// CreateOrder inserts an order and its domains; ErrExists when the number is
// taken.
func (q Queries) CreateOrder(ctx context.Context, o model.Order, domains []model.Domain) error {
	var one int
	err := q.ex.QueryRowContext(ctx, `SELECT 1 FROM orders WHERE order_number = $1`, o.Number).Scan(&one)
	if err == nil {
		return model.ErrExists
	} else if err != sql.ErrNoRows {
		return err
	}
	if _, err := q.ex.ExecContext(ctx,
		`INSERT INTO orders (`+orderColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		o.Number, o.AccountID, o.BaseNumber, o.Status, nullInt(o.TemplateID), ms(o.ResendTAT), ms(o.Created)); err != nil {
		return err
	}
	for _, d := range domains {
		if _, err := q.ex.ExecContext(ctx,
			`INSERT INTO order_domains (order_number, position, domain_name, fqdn, dcv_method) VALUES ($1, $2, $3, $4, $5)`,
			o.Number, d.Position, d.Name, d.FQDN, d.Method); err != nil {
			return err
		}
	}
	return nil
}

// Order reads an order of an account. ErrNotFound covers both a missing
// order and another account's, so callers cannot tell them apart.
func (q Reads) Order(ctx context.Context, accountID, number int64) (model.Order, error) {
	return scanOrder(q.ex.QueryRowContext(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE order_number = $1 AND account_id = $2`, number, accountID))
}

// OrderByNumber reads an order whatever its account (operator commands and
// the confirmation page).
func (q Reads) OrderByNumber(ctx context.Context, number int64) (model.Order, error) {
	return scanOrder(q.ex.QueryRowContext(ctx,
		`SELECT `+orderColumns+` FROM orders WHERE order_number = $1`, number))
}

// LockOrderState reads an order of an account with its domains and their
// live emails (OrderState) and, on PostgreSQL, first locks the order's row
// until the transaction ends, so that concurrent resends of one order
// serialize (SQLite's immediate transactions already do). The lock is a
// statement of its own: a join that waited for a row lock would return the
// locked row as the other transaction left it but the joined rows (the
// domains) as they were when the statement began. ErrNotFound covers a
// missing order and another account's alike.
func (q Reads) LockOrderState(ctx context.Context, accountID, number int64) (model.OrderState, error) {
	if q.d.forUpdate != "" {
		var n int64
		err := q.ex.QueryRowContext(ctx,
			`SELECT order_number FROM orders WHERE order_number = $1 AND account_id = $2`+q.d.forUpdate, number, accountID).Scan(&n)
		if err != nil {
			return model.OrderState{}, notFound(err)
		}
	}
	return q.OrderState(ctx, accountID, number)
}

// OrderState reads an order of an account with its domains, in order, and
// their live emails, in one statement. ErrNotFound covers a missing order
// and another account's alike.
func (q Reads) OrderState(ctx context.Context, accountID, number int64) (model.OrderState, error) {
	st, err := q.OrderStateOf(ctx, number)
	// The account is compared here, not in the WHERE clause: with the
	// term there, SQLite planned the join anew on every call (the plan
	// depended on the bound account, a third of the statement's time).
	if err == nil && st.AccountID != accountID {
		return model.OrderState{}, model.ErrNotFound
	}
	return st, err
}

// OrderStateOf is OrderState whatever the order's account: for the
// confirmation page, where the code is the credential.
func (q Reads) OrderStateOf(ctx context.Context, number int64) (model.OrderState, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, o.product,
		        `+joinedDomainColumns+`,
		        e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms
		 FROM orders o
		 LEFT JOIN order_domains d ON d.order_number = o.order_number
		 LEFT JOIN dcv_emails e ON e.id = d.current_email_id
		 WHERE o.order_number = $1
		 ORDER BY d.position`, number)
	if err != nil {
		return model.OrderState{}, err
	}
	defer rows.Close()
	var st model.OrderState
	found := false
	for rows.Next() {
		var (
			o                         model.Order
			oTmpl                     sql.NullInt64
			tat, created, product     int64
			d                         joinedDomain
			eTo, eHash                sql.NullString
			eTmpl, eCreated, eExpires sql.NullInt64
		)
		targets := append([]any{&o.Number, &o.AccountID, &o.BaseNumber, &o.Status, &oTmpl, &tat, &created, &product}, d.targets()...)
		if err := rows.Scan(append(targets, &eTo, &eTmpl, &eHash, &eCreated, &eExpires)...); err != nil {
			return model.OrderState{}, err
		}
		if !found {
			o.TemplateID, o.ResendTAT, o.Created = oTmpl.Int64, fromMS(tat), fromMS(created)
			st.Order, st.Product, found = o, product, true
		}
		dom, ok := d.domain(o.Number)
		if !ok {
			continue // an order without domains
		}
		st.Domains = append(st.Domains, dom)
		if cur := dom.CurrentEmailID; cur != 0 && eHash.Valid {
			if st.Live == nil {
				st.Live = map[int64]model.Email{}
			}
			st.Live[cur] = model.Email{
				ID: cur, OrderNumber: o.Number, Recipient: eTo.String, TemplateID: eTmpl.Int64,
				CodeHash: eHash.String, Created: fromMS(eCreated.Int64), Expires: fromMS(eExpires.Int64),
			}
		}
	}
	if err := rows.Err(); err != nil {
		return model.OrderState{}, err
	}
	if !found {
		return model.OrderState{}, model.ErrNotFound
	}
	return st, nil
}

// NewestInChain is the number of the newest order of an account whose chain
// starts at base.
func (q Reads) NewestInChain(ctx context.Context, accountID, base int64) (int64, error) {
	var n sql.NullInt64
	err := q.ex.QueryRowContext(ctx,
		`SELECT MAX(order_number) FROM orders WHERE base_order_number = $1 AND account_id = $2`, base, accountID).Scan(&n)
	if err != nil {
		return 0, err
	}
	if !n.Valid {
		return 0, model.ErrNotFound
	}
	return n.Int64, nil
}

// SetOrderResend records the order's last template and limiter state.
func (q Queries) SetOrderResend(ctx context.Context, number, templateID int64, tat time.Time) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE orders SET template_id = $2, resend_tat_ms = $3 WHERE order_number = $1`,
		number, nullInt(templateID), ms(tat))
	return affectedOne(res, err)
}

// SetOrderStatus changes an order's status.
func (q Queries) SetOrderStatus(ctx context.Context, number int64, status model.OrderStatus) error {
	res, err := q.ex.ExecContext(ctx, `UPDATE orders SET status = $2 WHERE order_number = $1`, number, status)
	return affectedOne(res, err)
}

const domainColumns = `order_number, position, domain_name, fqdn, dcv_method, dcv_email, dcv_source, current_email_id, validated_ms, validated_email_id`

// joinedDomainColumns are an order's domain columns read through a LEFT
// JOIN of order_domains as d: all NULL in the one row of an order without
// domains. joinedDomain scans them.
const joinedDomainColumns = `d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id`

type joinedDomain struct {
	pos, cur, val, valEmail    sql.NullInt64
	name, fqdn, method, to, by sql.NullString
}

func (j *joinedDomain) targets() []any {
	return []any{&j.pos, &j.name, &j.fqdn, &j.method, &j.to, &j.by, &j.cur, &j.val, &j.valEmail}
}

// domain is the scanned domain of order number; false for no domain.
func (j *joinedDomain) domain(number int64) (model.Domain, bool) {
	if !j.pos.Valid {
		return model.Domain{}, false
	}
	return model.Domain{
		OrderNumber: number, Position: int(j.pos.Int64), Name: j.name.String, FQDN: j.fqdn.String,
		Method: model.Method(j.method.String), Recipient: j.to.String, Source: model.Source(j.by.String),
		CurrentEmailID: j.cur.Int64, Validated: nullTime(j.val), ValidatedEmailID: j.valEmail.Int64,
	}, true
}

// Domains lists an order's domains in order.
func (q Reads) Domains(ctx context.Context, number int64) ([]model.Domain, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+domainColumns+` FROM order_domains WHERE order_number = $1 ORDER BY position`, number)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Domain
	for rows.Next() {
		var d model.Domain
		var cur, val, valEmail sql.NullInt64
		if err := rows.Scan(&d.OrderNumber, &d.Position, &d.Name, &d.FQDN, &d.Method, &d.Recipient, &d.Source, &cur, &val, &valEmail); err != nil {
			return nil, err
		}
		d.CurrentEmailID, d.Validated, d.ValidatedEmailID = cur.Int64, nullTime(val), valEmail.Int64
		out = append(out, d)
	}
	return out, rows.Err()
}

// SetDomainRecipient points a domain at a new DCV email: its recipient, the
// BR method by which the recipient qualifies, and the email whose random
// value is now the live one. An earlier email's value stops covering it.
func (q Queries) SetDomainRecipient(ctx context.Context, number int64, position int, recipient, source string, emailID int64) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE order_domains SET dcv_email = $3, dcv_source = $4, current_email_id = $5 WHERE order_number = $1 AND position = $2`,
		number, position, recipient, source, nullInt(emailID))
	return affectedOne(res, err)
}

// SetDomainMethod changes a domain's DCV method; a non-email method clears
// its recipient and live email.
func (q Queries) SetDomainMethod(ctx context.Context, number int64, position int, method model.Method) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE order_domains SET dcv_method = $3, dcv_email = '', dcv_source = '', current_email_id = NULL
		 WHERE order_number = $1 AND position = $2`, number, position, method)
	return affectedOne(res, err)
}

// ValidateDomains marks as validated every domain of an order that still
// awaits validation with emailID as its live email, and returns how many.
func (q Queries) ValidateDomains(ctx context.Context, number, emailID int64, at time.Time) (int64, error) {
	res, err := q.ex.ExecContext(ctx, validateDomainsSQL, number, emailID, ms(at))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// validateDomainsSQL validates the domains of order $1 whose live email is
// $2, at $3.
const validateDomainsSQL = `UPDATE order_domains SET validated_ms = $3, validated_email_id = $2
 WHERE order_number = $1 AND current_email_id = $2 AND validated_ms IS NULL AND dcv_method = 'EMAIL'`
