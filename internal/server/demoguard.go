package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// checkDemo refuses --demo where its published password would reach real
// people (with --smtp: its first DCV email goes out; on a non-loopback
// --listen: anyone may log in) unless --demo-unsafe says so, and warns
// whenever the demo runs.
func checkDemo(cfg config.Serve, listen netip.AddrPort, log *slog.Logger) error {
	if !cfg.Demo {
		return nil
	}
	public := !listen.Addr().IsLoopback()
	if (cfg.SMTP != "" || public) && !cfg.Guard.DemoUnsafe {
		return fmt.Errorf("--demo seeds an account whose password is published (%s / %s): refused with --smtp or a non-loopback --listen; add --demo-unsafe to run it anyway", DemoLogin, DemoPassword)
	}
	log.Warn("--demo: the demo account is enabled with a published password; never expose this server",
		"login", DemoLogin, "password", DemoPassword, "smtp", cfg.SMTP != "", "public_listen", public)
	return nil
}

// setDemoEnabled enables the demo account (when it exists) for a server
// started with --demo and disables it for one started without: its
// password is public, so it must not outlive the demo.
func setDemoEnabled(ctx context.Context, st *store.Store, enabled bool, now time.Time) error {
	a, err := st.AccountByLogin(ctx, DemoLogin)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if a.Disabled == !enabled {
		return nil
	}
	a.Disabled = !enabled
	a.Updated = now
	return st.Tx(ctx, func(tx model.Tx) error { return tx.UpdateAccount(ctx, a) })
}
