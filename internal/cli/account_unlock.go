package cli

import (
	"context"
	"flag"
	"fmt"
	"net/netip"

	"github.com/dcvmail/dcvmail/internal/config"
)

var accountUnlockCmd = &command{
	name:     "account unlock",
	synopsis: "--login NAME [--source ADDR] [--data DIR | --db URL]",
	summary:  "end the lockout of a login name after failed logins, on every node",
	about: `Failed logins of a login name within --lockout-window lock it for
--lockout-duration (serve -h). unlock forgets the name's failures now;
with --source it also forgets those of a source address (an IPv6 address
stands for its /64). The name need not be an account's: unknown names are
counted alike.`,
	examples: []string{
		"dcvmail account unlock --login login_name",
		"dcvmail account unlock --login reseller1 --source 203.0.113.7",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		login := fs.String("login", "", "login `name` to unlock")
		source := fs.String("source", "", "also unlock this source `address` (IPv4, or IPv6 for its /64)")
		return func(ctx context.Context) error {
			if err := checkLogin(*login); err != nil {
				return err
			}
			var addr netip.Addr
			if *source != "" {
				var err error
				if addr, err = netip.ParseAddr(*source); err != nil {
					return usagef("%s %q: not an IP address", k.src.Name("source"), *source)
				}
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			cleared, err := unlockLogin(ctx, a, *login, addr)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("login %q", *login)
			if *source != "" {
				what += fmt.Sprintf(" and source %s", addr)
			}
			if cleared {
				fmt.Fprintf(k.env.Stdout, "%s unlocked: failed logins forgotten\n", what)
			} else {
				fmt.Fprintf(k.env.Stdout, "%s had no failed logins\n", what)
			}
			return nil
		}
	},
}
