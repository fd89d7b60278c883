package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/store"
)

// backup is `dcvmail backup --to FILE`: a consistent copy of the SQLite
// database, taken while `serve` runs (store.Backup). It neither migrates
// nor writes the database it copies.
func backup(args []string, env Env) error {
	var c config.Common
	var to string
	fs := newFlagSet("backup", env)
	config.BindCommon(fs, &c)
	fs.StringVar(&to, "to", "", "file to write the copy to (must not exist)")
	if err := parse(fs, args, env); err != nil {
		return err
	}
	if to == "" {
		return usageError{"backup needs --to FILE"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("backup: unexpected argument %q", fs.Arg(0))}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
