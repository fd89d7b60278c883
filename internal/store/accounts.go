package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dcvmail/dcvmail/internal/model"
)

const accountColumns = `id, login, password_hash, read_only, disabled, created_ms, updated_ms`

func scanAccount(row interface{ Scan(...any) error }) (model.Account, error) {
	var a model.Account
	var ro, dis int
	var c, u int64
	err := row.Scan(&a.ID, &a.Login, &a.PasswordHash, &ro, &dis, &c, &u)
	a.ReadOnly, a.Disabled, a.Created, a.Updated = ro != 0, dis != 0, fromMS(c), fromMS(u)
	return a, notFound(err)
}

// AccountByLogin finds an account by its exact (case-sensitive) login.
func (q Reads) AccountByLogin(ctx context.Context, login string) (model.Account, error) {
	return scanAccount(q.ex.QueryRowContext(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE login = $1`, login))
}

// AccountByID finds an account by its id.
func (q Reads) AccountByID(ctx context.Context, id int64) (model.Account, error) {
	return scanAccount(q.ex.QueryRowContext(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

// CreateAccount adds an account; ErrExists when the login is taken.
func (q Queries) CreateAccount(ctx context.Context, a model.Account) (model.Account, error) {
	if _, err := q.AccountByLogin(ctx, a.Login); err == nil {
		return model.Account{}, model.ErrExists
	} else if !errors.Is(err, model.ErrNotFound) {
		return model.Account{}, err
	}
	err := q.ex.QueryRowContext(ctx,
		`INSERT INTO accounts (login, password_hash, read_only, disabled, created_ms, updated_ms)
		 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
		a.Login, a.PasswordHash, boolInt(a.ReadOnly), boolInt(a.Disabled), ms(a.Created)).Scan(&a.ID)
	a.Updated = a.Created
	return a, err
}

// UpdateAccount changes an account's password hash and flags. A changed
// hash is what invalidates cached verifications on every node.
func (q Queries) UpdateAccount(ctx context.Context, a model.Account) error {
	res, err := q.ex.ExecContext(ctx,
		`UPDATE accounts SET password_hash = $2, read_only = $3, disabled = $4, updated_ms = $5 WHERE id = $1`,
		a.ID, a.PasswordHash, boolInt(a.ReadOnly), boolInt(a.Disabled), ms(a.Updated))
	return affectedOne(res, err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return model.ErrNotFound
	}
	return nil
}
