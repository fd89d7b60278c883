package cli

// This file is the command line's one seam with the rest of dcvmail: every
// place a command opens the application or reads and writes accounts,
// orders, templates and the mailbox goes through one small function here.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/dcvmail/dcvmail/internal/accounts"
	appkg "github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
)

// app is the opened domain (internal/app, the one assembly).
type app = appkg.App

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
// run while `serve` runs on the same database. It applies the settings the
// server recorded (code validity, resend limits, the policy's dated rules,
// DNS contacts: internal/app); a flag given to the command itself wins over
// the server's (order add --dns-resolver).
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
	var resolvers []string // nil: the server's
	if len(o.resolvers) > 0 {
		resolvers = slices.DeleteFunc(slices.Clone(o.resolvers), func(r string) bool { return r == "none" })
	}
	return appkg.Open(ctx, appkg.Config{
		DatabaseURL:    url,
		Resolvers:      resolvers,
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
	ok, err := appkg.HoldsData(ctx, url)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: the database holds no dcvmail data (dcvmail migrate or dcvmail serve creates it)", src.Name("db"))
	}
	return nil
}

// newAccount is what `account add` creates.
type newAccount = accounts.NewAccount

// errAccountExists: the login is taken.
var errAccountExists = accounts.ErrExists

// accountExists tells whether an account has the login.
func accountExists(ctx context.Context, a *app, login string) (bool, error) {
	return accounts.Exists(ctx, a.Store, login)
}

// createAccount adds an account; errAccountExists when the login is taken.
// The rules are package accounts', shared with the admin API.
func createAccount(ctx context.Context, a *app, n newAccount) error {
	return accounts.Create(ctx, a.Store, n, a.DCV.Now())
}

// accountChange is what `account set` changes; nil fields stay.
type accountChange = accounts.Change

// errNoAccount: no account has the login.
var errNoAccount = accounts.ErrNoAccount

// updateAccount changes an account; errNoAccount when there is none.
func updateAccount(ctx context.Context, a *app, login string, ch accountChange) error {
	return accounts.Update(ctx, a.Store, login, ch, a.DCV.Now())
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

// orderView reads an order as `order show` prints it; found is false when
// there is no such order.
func orderView(ctx context.Context, a *app, number int64) (dcv.OrderView, bool, error) {
	return a.DCV.Show(ctx, number)
}

// addTemplate stores a DCV email template, open to the given accounts'
// logins (none: to every account); dcv.PutTemplate holds the rules.
func addTemplate(ctx context.Context, a *app, id int64, t mail.Template, logins []string) error {
	err := a.DCV.PutTemplate(ctx, id, t, logins)
	if unknown, ok := errors.AsType[*dcv.UnknownLoginError](err); ok {
		return fmt.Errorf("--account %q: no such account", unknown.Login)
	}
	return err
}

// mailFilter selects messages of the built-in mailbox.
type mailFilter = model.MailFilter

// capturedMail is one message of the built-in mailbox.
type capturedMail = model.CapturedMail

// listMail lists the built-in mailbox's messages, oldest first.
func listMail(ctx context.Context, a *app, f mailFilter) ([]capturedMail, error) {
	return a.Store.MailboxFiltered(ctx, f)
}
