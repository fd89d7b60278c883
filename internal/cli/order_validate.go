package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/server"
)

var orderValidateCmd = &command{
	name:     "order validate",
	synopsis: "N [--organization] [--domain NAME]... [--data DIR | --db URL]",
	summary:  "mark an order's organization or domains as validated, and issue it when all are",
	about: `OV and EV orders wait for organization validation besides DCV, and domains
whose DCV method is HTTP_CSR_HASH, HTTPS_CSR_HASH or CNAME_CSR_HASH wait for
someone to check the file or record (dcvmail does not fetch it). These are the
operator's marks; the order is issued at once when nothing else is missing
(the running server's CA, kept in the database, signs it).`,
	examples: []string{"dcvmail order validate 10000002 --organization", "dcvmail order validate 10000003 --domain shop.example.com --domain www.shop.example.com"},
	nargs:    1,
	argName:  "one order number",
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		org := fs.Bool("organization", false, "the organization is validated")
		var domains config.List
		fs.Var(&domains, "domain", "a domain of the order (as ordered) whose DCV is done; repeatable")
		return func(ctx context.Context) error {
			n, err := strconv.ParseInt(k.args[0], 10, 64)
			if err != nil || n < 1 {
				return usagef("%q is not an order number", k.args[0])
			}
			if !*org && len(domains) == 0 {
				return usagef("order validate needs --organization or --domain")
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if on, err := server.EnableOrders(ctx, a, a.Clock); err != nil {
				return err
			} else if !on {
				return fmt.Errorf("no test CA in this database yet: serve makes it when it first starts with --http-listen")
			}
			issued := false
			for _, d := range domains {
				if issued, err = a.DCV.ValidateDomain(ctx, n, d); err != nil {
					return fmt.Errorf("--domain %s: %w", d, err)
				}
			}
			if *org {
				if issued, err = a.DCV.ValidateOrganization(ctx, n); err != nil {
					return err
				}
			}
			if issued {
				fmt.Fprintf(k.env.Stdout, "order %d: marked validated; certificate issued\n", n)
			} else {
				fmt.Fprintf(k.env.Stdout, "order %d: marked validated; not issued yet (awaiting DCV, organization validation, CAA, or payment)\n", n)
			}
			return nil
		}
	},
}
