package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
)

var orderAddCmd = &command{
	name:     "order add",
	synopsis: "--account NAME --domain FQDN [--domain FQDN]... [--base-order N] [--dcv-email ADDR] [--data DIR | --db URL]",
	summary:  "create an order and print its number (digits only, for scripts)",
	about: `With --dcv-email the first DCV email is sent at once to that address,
which must be a permitted recipient of the order's domains: a constructed
address (admin@, administrator@, webmaster@, hostmaster@, postmaster@) or
a DNS TXT or CAA contact. The email follows the rules serve recorded in the
database (code validity, policy, DNS resolvers); --dns-resolver replaces
the server's resolvers for this command ("none": constructed addresses only).`,
	examples: []string{
		"dcvmail order add --account reseller1 --domain example.com --dcv-email admin@example.com",
		"dcvmail order add --account reseller1 --domain example.com --domain www.example.com",
		"dcvmail order add --account reseller1 --domain example.com --base-order 10000002",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		var domains, resolvers config.List
		acct := fs.String("account", "", "login `name` of the account that owns the order")
		fs.Var(&domains, "domain", "a domain of the order, FQDN or *.FQDN; repeatable")
		base := fs.Int64("base-order", 0, "chain this order (a reissue or renewal) to an earlier order `N`")
		email := fs.String("dcv-email", "", "send the first DCV email to this permitted `address` now")
		fs.Var(&resolvers, "dns-resolver", "`host:port` of a resolver for DNS TXT/CAA contacts, instead of the server's; repeatable (\"none\": no DNS contacts)")
		return func(ctx context.Context) error {
			if *acct == "" || len(domains) == 0 {
				return usagef("--account and at least one --domain are required")
			}
			if *email != "" {
				if err := config.CheckMailbox(*email); err != nil {
					return usagef("%s %q: %v", k.src.Name("dcv-email"), *email, err)
				}
			}
			if err := config.CheckResolvers(resolvers, k.src); err != nil {
				return usageError{err.Error()}
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true, resolvers: resolvers, sends: true})
			if err != nil {
				return err
			}
			defer a.Close()
			n, err := createOrder(ctx, a, dcv.NewOrder{Login: *acct, Domains: domains, BaseOrder: *base, DCVEmail: *email})
			if err != nil {
				return err
			}
			fmt.Fprintln(k.env.Stdout, n)
			return nil
		}
	},
}
