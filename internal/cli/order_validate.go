package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
)

var orderValidateCmd = &command{
	name:     "order validate",
	synopsis: "N --organization [--data DIR | --db URL]",
	summary:  "mark an OV or EV order's organization as validated, and issue it if its names are",
	about: `OV and EV orders wait for organization validation besides DCV. This is the
operator's mark; the order is issued at once when every name is validated too
(the running server's CA, kept in the database, signs it).`,
	examples: []string{"dcvmail order validate 10000002 --organization"},
	nargs:    1,
	argName:  "one order number",
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		org := fs.Bool("organization", false, "the organization is validated")
		return func(ctx context.Context) error {
			n, err := strconv.ParseInt(k.args[0], 10, 64)
			if err != nil || n < 1 {
				return usagef("%q is not an order number", k.args[0])
			}
			if !*org {
				return usagef("order validate needs --organization")
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if on, err := a.EnableOrders(ctx, clock.System); err != nil {
				return err
			} else if !on {
				return fmt.Errorf("no test CA in this database yet: serve makes it when it first starts with --http-listen")
			}
			issued, err := a.DCV.ValidateOrganization(ctx, n)
			if err != nil {
				return err
			}
			if issued {
				fmt.Fprintf(k.env.Stdout, "order %d: organization validated; certificate issued\n", n)
			} else {
				fmt.Fprintf(k.env.Stdout, "order %d: organization validated; not issued yet (names awaiting DCV, CAA, or payment)\n", n)
			}
			return nil
		}
	},
}
