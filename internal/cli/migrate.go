package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/dcvmail/dcvmail/internal/config"
)

var migrateCmd = &command{
	name:     "migrate",
	synopsis: "[--data DIR] [--db URL]",
	summary:  "create or upgrade the database schema, then exit",
	about: `serve migrates on start too; run migrate first to upgrade a database
outside a deployment, or to create one for the admin commands.`,
	examples: []string{
		"dcvmail migrate --data ./dcvmail-data",
		"dcvmail migrate --db postgres://dcv:secret@db.internal/dcvmail",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		config.BindCommon(fs, &c)
		return func(ctx context.Context) error {
			a, err := openApp(ctx, c, k, openOptions{})
			if err != nil {
				return err
			}
			defer a.Close()
			fmt.Fprintln(k.env.Stdout, "schema up to date")
			return nil
		}
	},
}
