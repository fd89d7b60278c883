package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/config"
)

var accountSetCmd = &command{
	name:     "account set",
	synopsis: "--login NAME [--password-stdin] [--read-only=BOOL] [--disabled=BOOL] [--credit AMOUNT] [--customer-pays=BOOL] [--data DIR | --db URL]",
	summary:  "change an account's password, flags or credit terms",
	about: `Only the flags given change. A new password or --disabled holds on every
node at once: the next API call with the old password is refused.`,
	examples: []string{
		"printf '%s\\n' \"$NEW_PASSWORD\" | dcvmail account set --login reseller1 --password-stdin",
		"dcvmail account set --login reseller1 --disabled",
		"dcvmail account set --login reseller1 --disabled=false --read-only=false",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		login := fs.String("login", "", "login `name` of the account")
		fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of stdin")
		readOnly := fs.Bool("read-only", false, "the account may read but not resend")
		disabled := fs.Bool("disabled", false, "refuse every login of the account")
		credit := fs.String("credit", "", "credit balance, e.g. `100.00`, or unlimited")
		customerPays := fs.Bool("customer-pays", false, "the account's customers pay for their orders")
		return func(ctx context.Context) error {
			if err := checkLogin(*login); err != nil {
				return err
			}
			var ch accounts.Change
			// Flags set from the environment count as given: fs.Set marks them.
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "read-only":
					ch.ReadOnly = readOnly
				case "disabled":
					ch.Disabled = disabled
				case "credit":
					ch.Credit = credit
				case "customer-pays":
					ch.CustomerPays = customerPays
				}
			})
			if *fromStdin {
				p, err := readPassword(k.env)
				if err != nil {
					return err
				}
				ch.Password = &p
			}
			if ch == (accountChange{}) {
				return usagef("nothing to change: give --password-stdin, --read-only, --disabled, --credit or --customer-pays")
			}
			a, err := openApp(ctx, c, k, openOptions{existing: true})
			if err != nil {
				return err
			}
			defer a.Close()
			err = updateAccount(ctx, a, *login, ch)
			var bad *accounts.InputError
			if errors.Is(err, errNoAccount) {
				return fmt.Errorf("no account %q", *login)
			} else if errors.As(err, &bad) {
				return usagef("%s", bad.Msg)
			}
			return err
		}
	},
}
