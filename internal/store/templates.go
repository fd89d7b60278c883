package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dcvmail/dcvmail/internal/model"
)

// PutTemplate creates or replaces a template and its grants. With no
// grants the template is open to all accounts.
func (q Queries) PutTemplate(ctx context.Context, t model.Template, accountIDs []int64) error {
	if _, err := q.ex.ExecContext(ctx, `DELETE FROM template_grants WHERE template_id = $1`, t.ID); err != nil {
		return err
	}
	if _, err := q.ex.ExecContext(ctx,
		`INSERT INTO templates (id, subject, text_body, html_body, open_to_all, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (id) DO UPDATE SET subject = $2, text_body = $3, html_body = $4, open_to_all = $5`,
		t.ID, t.Subject, t.Text, t.HTML, boolInt(len(accountIDs) == 0), ms(t.Created)); err != nil {
		return err
	}
	for _, a := range accountIDs {
		if _, err := q.ex.ExecContext(ctx,
			`INSERT INTO template_grants (template_id, account_id) VALUES ($1, $2)`, t.ID, a); err != nil {
			return err
		}
	}
	return nil
}

// UsableTemplate reads a template that the account may use; ErrNotFound
// when it does not exist or is not granted to the account.
func (q Reads) UsableTemplate(ctx context.Context, id, accountID int64) (model.Template, error) {
	var t model.Template
	var open int
	var created int64
	err := q.ex.QueryRowContext(ctx,
		`SELECT t.id, t.subject, t.text_body, t.html_body, t.open_to_all, t.created_ms FROM templates t
		 WHERE t.id = $1 AND (t.open_to_all = 1 OR EXISTS
		   (SELECT 1 FROM template_grants g WHERE g.template_id = t.id AND g.account_id = $2))`, id, accountID).
		Scan(&t.ID, &t.Subject, &t.Text, &t.HTML, &open, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, model.ErrNotFound
	}
	t.OpenToAll, t.Created = open != 0, fromMS(created)
	return t, err
}
