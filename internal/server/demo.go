package server

import (
	"context"
	"errors"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
)

// The demo data of docs/cli.md, which makes the vendor's own sample request
// work against a fresh server.
const (
	DemoLogin    = "login_name"
	DemoPassword = "login_password"
	DemoOrder    = 1234567
	DemoDomain   = "example.com"
	DemoEmail    = "admin@example.com"
)

// SeedDemo creates the demo account and order unless they exist; the
// order's first DCV email goes to admin@example.com.
func SeedDemo(ctx context.Context, app *App) error {
	if exists, err := accounts.Exists(ctx, app.Store, DemoLogin); err != nil {
		return err
	} else if !exists {
		err := accounts.Create(ctx, app.Store, accounts.NewAccount{Login: DemoLogin, Password: DemoPassword}, app.DCV.Now())
		if err != nil && !errors.Is(err, accounts.ErrExists) {
			// Another node starting at the same moment may have inserted it
			// between our look and our insert: its row is as good as ours.
			if _, again := app.Store.AccountByLogin(ctx, DemoLogin); again != nil {
				return err
			}
		}
	}
	if _, err := app.Store.OrderByNumber(ctx, DemoOrder); err == nil {
		return nil
	} else if !errors.Is(err, model.ErrNotFound) {
		return err
	}
	_, err := app.DCV.CreateOrder(ctx, dcv.NewOrder{Login: DemoLogin, Domains: []string{DemoDomain}, Number: DemoOrder, DCVEmail: DemoEmail})
	if errors.Is(err, model.ErrExists) {
		return nil // another node seeded it first
	}
	if err != nil {
		// The other node's insert may have won the race between the look
		// and the insert (a unique violation, not ErrExists): the demo
		// order exists, which is all seeding promises.
		if _, again := app.Store.OrderByNumber(ctx, DemoOrder); again == nil {
			return nil
		}
	}
	return err
}
