package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/store"
)

var backupCmd = &command{
	name:     "backup",
	synopsis: "--to FILE [--data DIR] [--db URL]",
	summary:  "write a consistent online copy of the SQLite database",
	about: `The copy is taken while serve runs (VACUUM INTO), checked with
integrity_check, written 0600, and never overwrites an existing file. For
PostgreSQL use pg_dump or pg_basebackup (docs/operations.md).`,
	examples: []string{"dcvmail backup --data ./dcvmail-data --to ./dcvmail-$(date +%F).db"},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var c config.Common
		var to string
		config.BindCommon(fs, &c)
		fs.StringVar(&to, "to", "", "file to write the copy to (must not exist)")
		return func(ctx context.Context) error {
			if to == "" {
				return usagef("backup needs --to FILE")
			}
			return runBackup(ctx, c, to, k.env)
		}
	},
}

// runBackup copies the database of c to the file to (store.Backup). It
// neither migrates nor writes the database it copies.
func runBackup(ctx context.Context, c config.Common, to string, env Env) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	url := c.DatabaseURL()
	if !isPostgres(url) {
		// Opening a SQLite URL creates a missing file: a typo in --data
		// would back up an empty new database.
		path := strings.TrimPrefix(url, "sqlite://")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("backup: no database at %s: %w", path, err)
		}
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if err := st.Backup(ctx, to); err != nil {
		if errors.Is(err, store.ErrBackupPostgres) {
			return errors.New("backup: --db is PostgreSQL; back it up with pg_dump or pg_basebackup (docs/operations.md)")
		}
		return err
	}
	fi, err := os.Stat(to)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backup written to %s (%d bytes in %s), integrity_check ok\n", to, fi.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}

func isPostgres(url string) bool { return strings.HasPrefix(url, "postgres") }
