package bench

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dcvmail/dcvmail/internal/pgcluster"
)

// The values of --postgres.
const (
	postgresAuto = "auto" // when the server programs are on this machine
	postgresOn   = "on"   // or fail
	postgresOff  = "off"
)

// dbPostgres is the --db (and --large-db) that asks for a database on the
// run's own throwaway cluster rather than a URL.
const dbPostgres = "postgres"

// pgURL creates the database name on the run's throwaway PostgreSQL
// cluster, starting the cluster the first time, and returns its URL. The
// cluster keeps PostgreSQL's durable defaults (every commit is flushed,
// as SQLite's synchronous=FULL does) and is removed when the run ends.
func (b *run) pgURL(name string) (string, error) {
	if b.pg == nil {
		c, err := pgcluster.Start(pgcluster.Options{Durable: true})
		if err != nil {
			return "", fmt.Errorf("bench: start PostgreSQL: %w", err)
		}
		b.pg = c
		b.say("PostgreSQL %s", c.Info())
	}
	u := b.pg.AdminURL()
	if err := pgcluster.Exec(b.ctx, u, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// startBed starts a server of the run; on a database of the run's own
// PostgreSQL, its steps count that cluster's CPU time too.
func (b *run) startBed(name, data, db string) (*bed, error) {
	bd, err := startBed(b.ctx, name, data, db, b.sk)
	if err == nil && b.pg != nil && strings.Contains(db, "@"+b.pg.AdminURL().Host+"/") {
		bd.load.dbCPU = b.pg.CPUTime
	}
	return bd, err
}

// stopPostgres stops the throwaway cluster, if the run started one.
func (b *run) stopPostgres() {
	if b.pg != nil {
		if err := b.pg.Stop(); err != nil {
			b.say("%v", err)
		}
		b.pg = nil
	}
}

// ownDatabases replaces --db postgres and --large-db postgres with
// databases on the run's throwaway cluster; --db postgres alone puts the
// large run there too.
func (b *run) ownDatabases() error {
	o := &b.o
	if o.DB == dbPostgres && o.LargeDB == "" {
		o.LargeDB = dbPostgres
	}
	if o.LargeOrders <= 0 && o.LargeDB == dbPostgres {
		o.LargeDB = ""
	}
	for _, db := range []struct {
		opt  *string
		name string
	}{{&o.DB, "bench_small"}, {&o.LargeDB, "bench_large"}} {
		if *db.opt != dbPostgres {
			continue
		}
		u, err := b.pgURL(db.name)
		if err != nil {
			return err
		}
		*db.opt = u
	}
	return nil
}

// postgresCalls is the per-call table on PostgreSQL, on a database of the
// run's throwaway cluster, when the run's own database is SQLite and
// --postgres allows it: the same calls, seeded alike, right after
// SQLite's table, so that the two compare.
func (b *run) postgresCalls(dir string) error {
	o := b.o
	if o.Postgres == postgresOff || b.r.Backend == "postgres" || len(o.CallConcurrency) == 0 {
		return nil
	}
	if err := pgcluster.Check(); err != nil {
		if o.Postgres == postgresOn {
			return fmt.Errorf("bench: --postgres on: %w", err)
		}
		b.r.Notes = append(b.r.Notes, "no PostgreSQL table: "+err.Error())
		b.say("no PostgreSQL table: %v", err)
		return nil
	}
	url, err := b.pgURL("bench_calls")
	if err != nil {
		return err
	}
	bd, err := b.startBed("postgres", filepath.Join(dir, "postgres"), url)
	if err != nil {
		return err
	}
	defer bd.stop()
	b.say("seeding %d accounts and %d orders into PostgreSQL", o.Accounts, o.Orders)
	if err := seed(b.ctx, bd.srv.App, &bd.fix, o.Accounts, o.Orders, b.runID, nil); err != nil {
		return err
	}
	if err := bd.warmCredentials(); err != nil {
		return err
	}
	if err := b.callTable(bd); err != nil {
		return err
	}
	return bd.stop()
}
