package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

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
	if err := b.twoNodes(bd, dir); err != nil {
		return err
	}
	return bd.stop()
}

// Nodes compares ResendDCVEmail on one `serve` node with two nodes on the
// same PostgreSQL database (issue 18: two nodes must serve more than
// one), both in this process, on this machine's cores.
type Nodes struct {
	Concurrency int     `json:"concurrency"` // requests in flight in all
	One         Step    `json:"one"`
	Two         [2]Step `json:"two"` // half of the requests in flight each
	TwoTotal    float64 `json:"twoTotal"`
	Ratio       float64 `json:"ratio"` // TwoTotal over One's throughput
}

// twoNodes starts a second node on a's database, with a's message key (the
// nodes of a cluster share it), and measures ResendDCVEmail at the largest
// of --calls-concurrency on a alone, then split over both at once.
func (b *run) twoNodes(a *bed, dir string) error {
	c := slices.Max(b.o.CallConcurrency)
	key, err := os.ReadFile(filepath.Join(a.data, "message.key"))
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "postgres-second")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, "message.key"), key, 0o600); err != nil {
		return err
	}
	second, err := b.startBed("second", data, a.db)
	if err != nil {
		return err
	}
	defer second.stop()
	second.fix = a.fix // the same orders, through the other node
	if err := second.warmCredentials(); err != nil {
		return err
	}
	n := Nodes{Concurrency: c}
	err = a.heldResends(b.sk, func() {
		n.One = a.load.closed("resend", b.roundRobin(a, resendPath), c, b.o.Warm, b.o.Step)
	})
	if err != nil {
		return err
	}
	err = a.heldResends(b.sk, func() {
		var wg sync.WaitGroup
		for i, bd := range []*bed{a, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Two[i] = bd.load.closed("resend", b.roundRobin(bd, resendPath), max(1, c/2), b.o.Warm, b.o.Step)
			}()
		}
		wg.Wait()
	})
	if err != nil {
		return err
	}
	n.TwoTotal = n.Two[0].Throughput + n.Two[1].Throughput
	if n.One.Throughput > 0 {
		n.Ratio = round(n.TwoTotal/n.One.Throughput, 2)
	}
	b.r.Nodes = &n
	b.say("two nodes on one PostgreSQL, ResendDCVEmail at %d in flight: one %.0f/s, two %.0f + %.0f = %.0f/s (%.2f×), errors %d, %d+%d",
		c, n.One.Throughput, n.Two[0].Throughput, n.Two[1].Throughput, n.TwoTotal, n.Ratio, n.One.Errors, n.Two[0].Errors, n.Two[1].Errors)
	return second.stop()
}

// heldResends runs measure with the outbox of bd's database empty before
// and after, and the sink's deliveries held during it, as the sweep's
// resend steps do.
func (bd *bed) heldResends(sk *sink, measure func()) error {
	if err := bd.drain(5 * time.Minute); err != nil {
		return err
	}
	sk.hold()
	measure()
	sk.release()
	return bd.drain(5 * time.Minute)
}
