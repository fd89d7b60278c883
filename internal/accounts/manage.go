package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// The rules of creating and changing an account, in one place: the command
// line (account add, account set), the admin API (docs/control.md), the
// --demo seeding, `dcvmail bench` and the test helpers all go through
// Create and Update.

// Limits of a login name and a password (docs/cli.md, account add).
const (
	MaxLoginLength    = 64
	MaxPasswordLength = 128
)

// ErrExists: the login is taken. ErrNoAccount: no account has the login.
var (
	ErrExists    = errors.New("account exists")
	ErrNoAccount = errors.New("no such account")
)

// InputError is a value an operator gave that the rules refuse; its text
// says which and why.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error { return &InputError{fmt.Sprintf(format, args...)} }

// CheckLogin checks a login name: 1 to 64 characters, no spaces or controls.
func CheckLogin(login string) error {
	if login == "" {
		return inputErrorf("a login name is required")
	}
	if len(login) > MaxLoginLength || strings.ContainsFunc(login, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return inputErrorf("login %q: 1 to 64 characters, no spaces or controls", login)
	}
	return nil
}

// CheckPassword checks a new password: 1 to 128 bytes.
func CheckPassword(password string) error {
	if password == "" || len(password) > MaxPasswordLength {
		return inputErrorf("the password must be 1 to 128 characters")
	}
	return nil
}

// ParseCredit reads a credit amount such as "100.00" (at most two decimals,
// not negative) into cents; "unlimited" is nil.
func ParseCredit(s string) (*int64, error) {
	if s == "unlimited" {
		return nil, nil
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || (dot && frac == "") || strings.TrimLeft(whole+frac, "0123456789") != "" || len(whole) > 12 {
		return nil, inputErrorf("credit %q: want an amount such as 100.00 (at most two decimals, not negative) or \"unlimited\"", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	cents, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || cents > math.MaxInt64/2 {
		return nil, inputErrorf("credit %q: too large", s)
	}
	return &cents, nil
}

// FormatCredit writes cents as "100.00"; nil is "unlimited".
func FormatCredit(cents *int64) string {
	if cents == nil {
		return "unlimited"
	}
	return fmt.Sprintf("%d.%02d", *cents/100, *cents%100)
}

// NewAccount is an account to create.
type NewAccount struct {
	Login        string
	Password     string
	ReadOnly     bool
	Disabled     bool
	Credit       string // "" or "unlimited": unlimited
	CustomerPays bool
}

// Create adds an account after checking its fields; ErrExists when the
// login is taken (nothing changes then).
func Create(ctx context.Context, st model.Store, n NewAccount, now time.Time) error {
	if err := CheckLogin(n.Login); err != nil {
		return err
	}
	if err := CheckPassword(n.Password); err != nil {
		return err
	}
	terms := model.AccountTerms{CustomerPays: n.CustomerPays}
	if n.Credit != "" {
		var err error
		if terms.CreditCents, err = ParseCredit(n.Credit); err != nil {
			return err
		}
	}
	hash, err := HashPassword(n.Password, rand.Reader)
	if err != nil {
		return err
	}
	err = st.Tx(ctx, func(tx model.Tx) error {
		a, err := tx.CreateAccount(ctx, model.Account{Login: n.Login, PasswordHash: hash, ReadOnly: n.ReadOnly, Disabled: n.Disabled, Created: now})
		if err != nil {
			return err
		}
		return tx.SetAccountTerms(ctx, a.ID, terms)
	})
	if errors.Is(err, model.ErrExists) {
		return ErrExists
	}
	return err
}

// Exists tells whether an account has the login.
func Exists(ctx context.Context, st model.Store, login string) (bool, error) {
	_, err := st.AccountByLogin(ctx, login)
	if errors.Is(err, model.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Change is what Update changes; nil fields stay.
type Change struct {
	Password     *string
	ReadOnly     *bool
	Disabled     *bool
	Credit       *string
	CustomerPays *bool
}

// Empty tells whether the change changes nothing.
func (c Change) Empty() bool { return c == Change{} }

// Update changes an account after checking the change; ErrNoAccount when
// there is none. A new password or Disabled holds on every node at once.
func Update(ctx context.Context, st model.Store, login string, ch Change, now time.Time) error {
	var credit *int64
	if ch.Password != nil {
		if err := CheckPassword(*ch.Password); err != nil {
			return err
		}
	}
	if ch.Credit != nil {
		var err error
		if credit, err = ParseCredit(*ch.Credit); err != nil {
			return err
		}
	}
	acct, err := st.AccountByLogin(ctx, login)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNoAccount
	} else if err != nil {
		return err
	}
	if ch.Password != nil {
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
	return st.Tx(ctx, func(tx model.Tx) error {
		if err := tx.UpdateAccount(ctx, acct); err != nil {
			return err
		}
		if ch.Credit == nil && ch.CustomerPays == nil {
			return nil
		}
		terms, err := tx.AccountTerms(ctx, acct.ID)
		if err != nil {
			return err
		}
		if ch.Credit != nil {
			terms.CreditCents = credit
		}
		if ch.CustomerPays != nil {
			terms.CustomerPays = *ch.CustomerPays
		}
		return tx.SetAccountTerms(ctx, acct.ID, terms)
	})
}

// View is an account as operators see it: never its password or hash.
type View struct {
	Login        string     `json:"login"`
	ReadOnly     bool       `json:"readOnly"`
	Disabled     bool       `json:"disabled"`
	Locked       bool       `json:"locked"`
	LockedUntil  *time.Time `json:"lockedUntil"`
	Credit       string     `json:"credit"`
	CustomerPays bool       `json:"customerPays"`
	Created      time.Time  `json:"createdAt"`
	Updated      time.Time  `json:"updatedAt"`
}

// List lists every account with whether its login name is locked at now
// (from anywhere, or from some source).
func List(ctx context.Context, st model.Store, now time.Time) ([]View, error) {
	accts, err := st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	until, err := lockedLogins(ctx, st, now)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(accts))
	for _, a := range accts {
		v, err := viewOf(ctx, st, a, until)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Show is one account's View; ErrNoAccount when there is none.
func Show(ctx context.Context, st model.Store, login string, now time.Time) (View, error) {
	a, err := st.AccountByLogin(ctx, login)
	if errors.Is(err, model.ErrNotFound) {
		return View{}, ErrNoAccount
	} else if err != nil {
		return View{}, err
	}
	until, err := lockedLogins(ctx, st, now)
	if err != nil {
		return View{}, err
	}
	return viewOf(ctx, st, a, until)
}

func viewOf(ctx context.Context, st model.Store, a model.Account, until map[string]time.Time) (View, error) {
	terms, err := st.AccountTerms(ctx, a.ID)
	if err != nil {
		return View{}, err
	}
	v := View{Login: a.Login, ReadOnly: a.ReadOnly, Disabled: a.Disabled, Credit: FormatCredit(terms.CreditCents),
		CustomerPays: terms.CustomerPays, Created: a.Created, Updated: a.Updated}
	if t, ok := until[a.Login]; ok {
		v.Locked, v.LockedUntil = true, &t
	}
	return v, nil
}

// lockedLogins maps the login of each account whose name is locked at now
// to when its latest lock ends. Locks of a login name are labelled with
// the account's login when they are set (lockout.go).
func lockedLogins(ctx context.Context, st model.Store, now time.Time) (map[string]time.Time, error) {
	locks, err := st.LoginLocks(ctx, now)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, l := range locks {
		if strings.HasPrefix(l.Subject, sourcePrefix) || l.Label == "" {
			continue
		}
		if l.LockedUntil.After(out[l.Label]) {
			out[l.Label] = l.LockedUntil
		}
	}
	return out, nil
}
