package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/mail"
)

var templateAddCmd = &command{
	name:     "template add",
	synopsis: "--id N --file FILE [--account NAME]... [--data DIR | --db URL]",
	summary:  "add or replace a DCV email template (docs/templates.md)",
	about: `The file holds a 'Subject:' line, a blank line and the text, optionally
followed by a line '--- html ---' and HTML. Clients choose it with
dcvTemplateID=N. Without --account it is open to every account.`,
	examples: []string{
		"dcvmail template add --id 2 --file brand.tmpl",
		"dcvmail template add --id 3 --file reseller1.tmpl --account reseller1",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		var grants config.List
		id := fs.Int64("id", 0, "template id `N` (the dcvTemplateID clients give), 1 or more")
		file := fs.String("file", "", "template `file`")
		fs.Var(&grants, "account", "login `name` of an account that may use the template; repeatable (none: open to all)")
		return func(ctx context.Context) error {
			if *id < 1 || *file == "" {
				return usagef("--id (1 or more) and --file are required")
			}
			b, err := os.ReadFile(*file)
			if err != nil {
				return err
			}
			t, err := mail.ParseTemplateFile(b)
			if err != nil {
				return fmt.Errorf("%s: %w", *file, err)
			}
			a, err := openApp(ctx, c, k, openOptions{})
			if err != nil {
				return err
			}
			defer a.Close()
			return addTemplate(ctx, a, *id, t, grants)
		}
	},
}
