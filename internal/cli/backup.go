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

	appkg "github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/config"
)

var backupCmd = &command{
	name:     "backup",
	synopsis: "--to FILE [--data DIR] [--db URL]",
	summary:  "write a consistent online copy of the SQLite database",
	about: `The copy is taken while serve runs (VACUUM INTO), checked with
integrity_check, written 0600, and never overwrites an existing file. For
PostgreSQL use pg_dump or pg_basebackup (docs/operations.md). The copy does
not hold the message key (message.key in --data, or --message-key-file):
back it up apart; a restore needs it to send the messages waiting then.`,
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

// runBackup copies the database of c to the file to (appkg.Backup). It
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
	start := time.Now()
	if err := appkg.Backup(ctx, url, to); err != nil {
		if errors.Is(err, appkg.ErrBackupPostgres) {
			return errors.New("backup: --db is PostgreSQL; back it up with pg_dump or pg_basebackup (docs/operations.md), and keep a copy of the message key file (--message-key-file) apart from it")
		}
		return err
	}
	fi, err := os.Stat(to)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backup written to %s (%d bytes in %s), integrity_check ok\n", to, fi.Size(), time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(env.Stdout, keyNote(c))
	return nil
}

// keyNote reminds that the copy lacks the message key: DCV messages waiting
// in the outbox are sealed under it, and a restore without it cannot send
// them (SECURITY.md, "Codes at rest").
func keyNote(c config.Common) string {
	key := c.MessageKeyPath()
	if _, err := os.Stat(key); err != nil {
		return "no message key at " + key + ": the copy's sealed messages, if any, need the key file of the server that wrote them"
	}
	return "the copy does not hold the message key " + key + ": back that file up too, kept apart from the database copies; a restore without it cannot send the messages waiting in the outbox"
}

func isPostgres(url string) bool { return strings.HasPrefix(url, "postgres") }
