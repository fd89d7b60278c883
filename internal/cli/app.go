package cli

// This file is the command line's one seam with the rest of dcvmail: every
// place a command opens the application or reads and writes accounts,
// orders, templates and the mailbox goes through one small function here.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

type app = server.App

// openOptions say how a command opens the application.
type openOptions struct {
	// existing refuses a database that is not there yet, instead of
	// creating an empty one: commands that only read or change what exists
	// (a mistyped --data must not answer with an empty table).
	existing bool
	// resolvers are the --dns-resolver values (order add's DNS contacts).
	resolvers []string
	// sends: the command writes DCV emails, so it needs the message key
	// (order add).
	sends bool
}

// openApp opens the database of --data/--db for an admin command, which may
// run while `serve` runs on the same database.
//
// DNS contacts are looked up only for an --dcv-email that is not a
// constructed address, and only at the resolvers given with --dns-resolver.
func openApp(ctx context.Context, c config.Common, k *call, o openOptions) (*app, error) {
	if err := config.CheckCommon(c, k.src); err != nil {
		return nil, usageError{err.Error()}
	}
	url := c.DatabaseURL()
	if file, ok := strings.CutPrefix(url, "sqlite://"); ok {
		if o.existing {
			if err := databaseThere(c, file, k.src); err != nil {
				return nil, err
			}
		} else if c.DB == "" {
			if err := os.MkdirAll(c.Data, 0o700); err != nil {
				return nil, fmt.Errorf("%s: %w", k.src.Name("data"), err)
			}
		}
	} else if o.existing {
		if err := schemaThere(ctx, url, k.src); err != nil {
			return nil, err
		}
	}
	return server.Open(ctx, server.AppOptions{
		DatabaseURL: url,
		// DNSSEC is required of contact lookups from 2026-03-15 (docs/policy.md).
		Finder: contacts.NewFinder(contacts.Config{Resolvers: slices.DeleteFunc(slices.Clone(o.resolvers), func(r string) bool { return r == "none" }),
			RequireAD: dcv.InForce(dcv.Timeline, "dnssec-contacts", time.Now())}),
		Log:            slog.New(slog.NewTextHandler(k.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		MessageKeyFile: c.MessageKeyPath(),
		SendsMail:      o.sends,
	})
}

// databaseThere refuses a SQLite file that does not exist, saying which
// setting pointed at it.
func databaseThere(c config.Common, file string, src config.Sources) error {
	if _, err := os.Stat(file); err == nil {
		return nil
	}
	if c.DB != "" {
		return fmt.Errorf("%s: no database at %s (dcvmail migrate or dcvmail serve creates one)", src.Name("db"), file)
	}
	if _, err := os.Stat(c.Data); err != nil {
		return fmt.Errorf("%s %s: no such directory (is it mistyped? dcvmail migrate or dcvmail serve creates one)", src.Name("data"), c.Data)
	}
	return fmt.Errorf("%s %s holds no database (is it the right directory? dcvmail migrate or dcvmail serve creates one)", src.Name("data"), c.Data)
}

// schemaThere refuses a PostgreSQL database in which dcvmail never ran.
func schemaThere(ctx context.Context, url string, src config.Sources) error {
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	var n int
	if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM settings`, &n); err != nil {
		return fmt.Errorf("%s: the database holds no dcvmail data (dcvmail migrate or dcvmail serve creates it)", src.Name("db"))
	}
	return nil
}

// newAccount is what `account add` creates.
type newAccount struct {
	Login    string
	Password string
	ReadOnly bool
	Disabled bool
}

// errAccountExists: the login is taken.
var errAccountExists = errors.New("account exists")

// accountExists tells whether an account has the login.
func accountExists(ctx context.Context, a *app, login string) (bool, error) {
	_, err := a.Store.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// createAccount adds an account; errAccountExists when the login is taken.
func createAccount(ctx context.Context, a *app, n newAccount) error {
	hash, err := accounts.HashPassword(n.Password, rand.Reader)
	if err != nil {
		return err
	}
	_, err = a.Store.CreateAccount(ctx, store.Account{Login: n.Login, PasswordHash: hash, ReadOnly: n.ReadOnly, Disabled: n.Disabled, Created: a.DCV.Now()})
	if errors.Is(err, store.ErrExists) {
		return errAccountExists
	}
	return err
}

// accountChange is what `account set` changes; nil fields stay.
type accountChange struct {
	Password *string
	ReadOnly *bool
	Disabled *bool
}

// errNoAccount: no account has the login.
var errNoAccount = errors.New("no such account")

// updateAccount changes an account; errNoAccount when there is none.
func updateAccount(ctx context.Context, a *app, login string, ch accountChange) error {
	acct, err := a.Store.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return errNoAccount
	} else if err != nil {
		return err
	}
	if ch.Password != nil {
		if acct.PasswordHash, err = accounts.HashPassword(*ch.Password, rand.Reader); err != nil {
			return err
		}
	}
	if ch.ReadOnly != nil {
		acct.ReadOnly = *ch.ReadOnly
	}
	if ch.Disabled != nil {
		acct.Disabled = *ch.Disabled
	}
	acct.Updated = a.DCV.Now()
	return a.Store.UpdateAccount(ctx, acct)
}

// unlockLogin ends the lockout of a login name (and of a source address, if
// valid) on every node; it tells whether there was a count to forget.
func unlockLogin(ctx context.Context, a *app, login string, source netip.Addr) (bool, error) {
	return accounts.Unlock(ctx, a.Store, login, source)
}

// createOrder adds an order and returns its number.
func createOrder(ctx context.Context, a *app, n dcv.NewOrder) (int64, error) {
	return a.DCV.CreateOrder(ctx, n)
}

// orderDetails reads everything known of an order; found is false when
// there is no such order.
func orderDetails(ctx context.Context, a *app, number int64) (d dcv.OrderDetails, found bool, err error) {
	d, err = a.DCV.Details(ctx, 0, number)
	if _, refused := dcv.AsError(err); refused {
		return d, false, nil
	}
	return d, err == nil, err
}

// addTemplate stores a DCV email template, open to the given accounts'
// logins (none: to every account).
func addTemplate(ctx context.Context, a *app, id int64, t mail.Template, logins []string) error {
	var ids []int64
	for _, login := range logins {
		acct, err := a.Store.AccountByLogin(ctx, login)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("--account %q: no such account", login)
		} else if err != nil {
			return err
		}
		ids = append(ids, acct.ID)
	}
	return a.Store.Tx(ctx, func(tx *store.Tx) error {
		return tx.PutTemplate(ctx, store.Template{ID: id, Subject: t.Subject, Text: t.Text, HTML: t.HTML, Created: a.DCV.Now()}, ids)
	})
}

// mailFilter selects messages of the built-in mailbox.
type mailFilter = store.MailFilter

// capturedMail is one message of the built-in mailbox.
type capturedMail = store.CapturedMail

// listMail lists the built-in mailbox's messages, oldest first.
func listMail(ctx context.Context, a *app, f mailFilter) ([]capturedMail, error) {
	return a.Store.MailboxFiltered(ctx, f)
}
