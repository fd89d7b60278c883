package store

import (
	"context"
	"database/sql"

	"github.com/dcvmail/dcvmail/internal/model"
)

// emailColumns are read from dcv_emails e joined with dcv_email_bodies b.
const (
	emailColumns = `e.id, e.order_number, e.recipient, e.template_id, e.code_hash, b.subject, b.text_body, b.html_body, b.sealed, e.created_ms, e.expires_ms`
	emailFrom    = `dcv_emails e JOIN dcv_email_bodies b ON b.email_id = e.id`
)

func (q Reads) scanEmail(row interface{ Scan(...any) error }) (model.Email, error) {
	var e model.Email
	var tmpl sql.NullInt64
	var c, x, sealed int64
	err := row.Scan(&e.ID, &e.OrderNumber, &e.Recipient, &tmpl, &e.CodeHash, &e.Subject, &e.Text, &e.HTML, &sealed, &c, &x)
	if err != nil {
		return e, notFound(err)
	}
	e.TemplateID, e.Created, e.Expires = tmpl.Int64, fromMS(c), fromMS(x)
	return e, q.openBody(e.ID, sealed == 1, &e.Subject, &e.Text, &e.HTML, false)
}

// CreateEmail stores a new DCV email and its message, and returns its id.
// Run it in a Tx: the two rows go in together.
func (q Queries) CreateEmail(ctx context.Context, e model.Email) (int64, error) {
	id, err := q.insertID(ctx,
		`INSERT INTO dcv_emails (order_number, recipient, template_id, code_hash, created_ms, expires_ms)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		e.OrderNumber, e.Recipient, nullInt(e.TemplateID), e.CodeHash, ms(e.Created), ms(e.Expires))
	if err != nil {
		return 0, err
	}
	subject, text, html, sealed, err := q.sealBody(id, e.Subject, e.Text, e.HTML)
	if err != nil {
		return 0, err
	}
	if sealed == 0 { // the column's default: the statement of a store without a key is the one of before migration 10
		_, err = q.ex.ExecContext(ctx,
			`INSERT INTO dcv_email_bodies (email_id, subject, text_body, html_body) VALUES ($1, $2, $3, $4)`,
			id, subject, text, html)
		return id, err
	}
	_, err = q.ex.ExecContext(ctx,
		`INSERT INTO dcv_email_bodies (email_id, subject, text_body, html_body, sealed) VALUES ($1, $2, $3, $4, 1)`,
		id, subject, text, html)
	return id, err
}

// Email reads one DCV email.
func (q Reads) Email(ctx context.Context, id int64) (model.Email, error) {
	return q.scanEmail(q.ex.QueryRowContext(ctx, `SELECT `+emailColumns+` FROM `+emailFrom+` WHERE e.id = $1`, id))
}

// EmailsOfOrder lists an order's DCV emails, oldest first.
func (q Reads) EmailsOfOrder(ctx context.Context, orderNumber int64) ([]model.Email, error) {
	rows, err := q.ex.QueryContext(ctx,
		`SELECT `+emailColumns+` FROM `+emailFrom+` WHERE e.order_number = $1 ORDER BY e.id`, orderNumber)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Email
	for rows.Next() {
		e, err := q.scanEmail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
