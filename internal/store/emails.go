package store

import (
	"context"
	"database/sql"
	"time"
)

// Email is one DCV email: a recipient, a random value (kept only as a keyed
// hash) and the rendered message, which is kept so that a resend within the
// value's validity is the identical message.
type Email struct {
	ID          int64
	OrderNumber int64
	Recipient   string
	TemplateID  int64 // 0 is the built-in template
	CodeHash    string
	Subject     string
	Text        string
	HTML        string
	Created     time.Time
	Expires     time.Time
}

const emailColumns = `id, order_number, recipient, template_id, code_hash, subject, text_body, html_body, created_ms, expires_ms`

func scanEmail(row interface{ Scan(...any) error }) (Email, error) {
	var e Email
	var tmpl sql.NullInt64
	var c, x int64
	err := row.Scan(&e.ID, &e.OrderNumber, &e.Recipient, &tmpl, &e.CodeHash, &e.Subject, &e.Text, &e.HTML, &c, &x)
	e.TemplateID, e.Created, e.Expires = tmpl.Int64, fromMS(c), fromMS(x)
	return e, notFound(err)
}

// CreateEmail stores a new DCV email and returns its id.
func (q Queries) CreateEmail(ctx context.Context, e Email) (int64, error) {
	var id int64
	err := q.ex.QueryRowContext(ctx,
		`INSERT INTO dcv_emails (order_number, recipient, template_id, code_hash, subject, text_body, html_body, created_ms, expires_ms)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		e.OrderNumber, e.Recipient, nullInt(e.TemplateID), e.CodeHash, e.Subject, e.Text, e.HTML, ms(e.Created), ms(e.Expires)).Scan(&id)
	return id, err
}

// Email reads one DCV email.
func (q Queries) Email(ctx context.Context, id int64) (Email, error) {
	return scanEmail(q.ex.QueryRowContext(ctx, `SELECT `+emailColumns+` FROM dcv_emails WHERE id = $1`, id))
}

// EmailByCode finds the email of an order whose random value has the given
// keyed hash.
func (q Queries) EmailByCode(ctx context.Context, orderNumber int64, codeHash string) (Email, error) {
	return scanEmail(q.ex.QueryRowContext(ctx,
		`SELECT `+emailColumns+` FROM dcv_emails WHERE code_hash = $1 AND order_number = $2`, codeHash, orderNumber))
}

// EmailsOfOrder lists an order's DCV emails, oldest first.
func (q Queries) EmailsOfOrder(ctx context.Context, orderNumber int64) ([]Email, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+emailColumns+` FROM dcv_emails WHERE order_number = $1 ORDER BY id`, orderNumber)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Email
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
