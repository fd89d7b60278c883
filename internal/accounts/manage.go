package accounts

// The rules of creating and changing an account, in one place: the command
// line (account add, account set), the --demo seeding, `dcvmail bench` and
// the test helpers all go through Create and Update.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// Limits of a login name and a password (docs/cli.md, account add).
const (
	MaxLoginLength    = 64
	MaxPasswordLength = 128
)

var (
	// ErrExists: the login is taken.
	ErrExists = errors.New("account exists")
	// ErrNoAccount: no account has the login.
	ErrNoAccount = errors.New("no such account")
)

// CheckLogin applies the rule of login names: 1 to 64 characters, no
// spaces or control characters. Logins are case-sensitive.
func CheckLogin(login string) error {
	if login == "" || len(login) > MaxLoginLength || strings.ContainsFunc(login, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("1 to %d characters, no spaces or controls", MaxLoginLength)
	}
	return nil
}

// CheckPassword applies the rule of passwords: 1 to 128 characters.
func CheckPassword(password string) error {
	if password == "" || len(password) > MaxPasswordLength {
		return fmt.Errorf("the password must be 1 to %d characters", MaxPasswordLength)
	}
	return nil
}

// New is an account to create.
type New struct {
	Login    string
	Password string
	ReadOnly bool
	Disabled bool
}

// Create checks the login and password, hashes the password (argon2id) and
// adds the account; ErrExists when the login is taken.
func Create(ctx context.Context, st *store.Store, now time.Time, n New) (store.Account, error) {
	if err := CheckLogin(n.Login); err != nil {
		return store.Account{}, fmt.Errorf("login %q: %w", n.Login, err)
	}
	if err := CheckPassword(n.Password); err != nil {
		return store.Account{}, err
	}
	hash, err := HashPassword(n.Password, rand.Reader)
	if err != nil {
		return store.Account{}, err
	}
	a, err := st.CreateAccount(ctx, store.Account{Login: n.Login, PasswordHash: hash, ReadOnly: n.ReadOnly, Disabled: n.Disabled, Created: now})
	if errors.Is(err, store.ErrExists) {
		return store.Account{}, ErrExists
	}
	return a, err
}

// Exists tells whether an account has the login.
func Exists(ctx context.Context, st *store.Store, login string) (bool, error) {
	_, err := st.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Change is what Update changes; nil fields stay.
type Change struct {
	Password *string
	ReadOnly *bool
	Disabled *bool
}

// Update changes an account; ErrNoAccount when there is none. A new
// password or Disabled holds on every node at the next call: the
// verification cache keys on the stored hash and the row is read each time.
func Update(ctx context.Context, st *store.Store, now time.Time, login string, ch Change) error {
	acct, err := st.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoAccount
	} else if err != nil {
		return err
	}
	if ch.Password != nil {
		if err := CheckPassword(*ch.Password); err != nil {
			return err
		}
		if acct.PasswordHash, err = HashPassword(*ch.Password, rand.Reader); err != nil {
			return err
		}
	}
	if ch.ReadOnly != nil {
		acct.ReadOnly = *ch.ReadOnly
	}
	if ch.Disabled != nil {
		acct.Disabled = *ch.Disabled
	}
	acct.Updated = now
	return st.UpdateAccount(ctx, acct)
}
