package dcv

import (
	"context"
	"errors"
	"fmt"

	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
)

// UnknownLoginError refuses a template grant to a login no account has.
type UnknownLoginError struct{ Login string }

func (e *UnknownLoginError) Error() string { return fmt.Sprintf("no account %q", e.Login) }

// PutTemplate adds or replaces the DCV email template id (the dcvTemplateID
// clients give, 1 or more), usable by the accounts of logins, or by every
// account when there are none (docs/templates.md). A template that cannot
// render (mail.Template.Check) or a login no account has changes nothing.
func (s *Service) PutTemplate(ctx context.Context, id int64, t mail.Template, logins []string) error {
	if id < 1 {
		return fmt.Errorf("template id %d: want 1 or more (0 is the built-in template)", id)
	}
	if err := t.Check(); err != nil {
		return err
	}
	return s.store.Tx(ctx, func(tx model.Tx) error {
		var ids []int64
		for _, login := range logins {
			acct, err := tx.AccountByLogin(ctx, login)
			if errors.Is(err, model.ErrNotFound) {
				return &UnknownLoginError{Login: login}
			} else if err != nil {
				return err
			}
			ids = append(ids, acct.ID)
		}
		return tx.PutTemplate(ctx, model.Template{ID: id, Subject: t.Subject, Text: t.Text, HTML: t.HTML, Created: s.clock.Now()}, ids)
	})
}
