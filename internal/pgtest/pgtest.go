// Package pgtest gives tests a throwaway PostgreSQL database.
//
// Usage, in a package that needs PostgreSQL:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		db, err := sql.Open("pgx", pgtest.URL(t)) // a new, empty database
//		...
//	}
//
// The first call to URL (or Available) in a test process starts a private
// PostgreSQL cluster: initdb into a fresh temporary directory named
// "dcvmail-pgtest-*", a postmaster listening on a free port on 127.0.0.1
// only, with trust authentication and durability switched off (fsync,
// synchronous_commit and full_page_writes are off) for speed. Every URL call
// then creates a new empty database on that cluster. Main stops the cluster
// and removes its directory once the tests have run.
//
// Environment:
//
//   - DCVMAIL_TEST_POSTGRES_URL: a postgres:// URL of an existing server to
//     use instead of starting one. Its user must be allowed to CREATE
//     DATABASE; the databases URL creates there are dropped again when the
//     test ends. If that server cannot be reached, tests fail (not skip).
//   - DCVMAIL_PG_BIN: the directory holding initdb and postgres. Without it
//     the Debian location of PostgreSQL 15 is tried, then `pg_config
//     --bindir`, then PATH.
//   - DCVMAIL_REQUIRE_POSTGRES=1: when no PostgreSQL can be had, URL fails
//     the test instead of skipping it, so CI cannot silently stop testing
//     against PostgreSQL.
//
// initdb and postgres refuse to run as root. When the test process is root,
// they are run as the "postgres" OS user (which must exist), and the
// temporary directory is handed to that user.
//
// If the test process dies without reaching the end of Main (a panic, a
// kill, a test timeout), the kernel sends the postmaster SIGQUIT, which makes
// it shut down immediately (Linux parent-death signal). Its directory is left
// behind; the next test process that starts a cluster removes leftover
// "dcvmail-pgtest-*" directories whose owning process is gone.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcvmail/dcvmail/internal/pgcluster"
)

// Environment variables understood by this package.
const (
	EnvURL     = "DCVMAIL_TEST_POSTGRES_URL"
	EnvRequire = "DCVMAIL_REQUIRE_POSTGRES"
	EnvBin     = pgcluster.EnvBin
	// EnvDurable=1 keeps PostgreSQL's durable defaults (fsync and
	// synchronous_commit on), for benchmarks that compare with SQLite's
	// synchronous=FULL fairly.
	EnvDurable = "DCVMAIL_PG_DURABLE"
)

// opTimeout bounds CREATE and DROP DATABASE.
const opTimeout = time.Minute

var (
	once     sync.Once
	srv      *server // set by setup when err is nil
	setupErr error

	mainUsed atomic.Bool
	warnOnce sync.Once
	dbSeq    atomic.Uint64
	runID    = randomHex(4) // keeps database names unique on a shared server
)

// server is where URL creates databases: either our own cluster or the
// server named by DCVMAIL_TEST_POSTGRES_URL.
type server struct {
	admin    *url.URL           // connects to an existing database, as a user that may CREATE DATABASE
	external bool               // DCVMAIL_TEST_POSTGRES_URL; databases are dropped after each test
	cluster  *pgcluster.Cluster // nil when external
}

// Main runs the tests of a package and then stops and removes the cluster, if
// one was started. Call it from TestMain; it does not return.
func Main(m *testing.M) {
	mainUsed.Store(true)
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	os.Exit(code)
}

// Available makes sure PostgreSQL is usable, starting the shared cluster if
// it has not been started yet, and reports why not if it is not.
func Available() error {
	once.Do(setup)
	return setupErr
}

// StartupInfo describes how the shared cluster came up, for logging. It is
// empty when no cluster was started (none needed yet, failure, or
// DCVMAIL_TEST_POSTGRES_URL).
func StartupInfo() string {
	if Available() != nil || srv.cluster == nil {
		return ""
	}
	return srv.cluster.Info()
}

// URL returns a postgres:// URL of a new, empty database, created for the
// calling test. The first call starts the shared cluster.
//
// When PostgreSQL is not available, the test is skipped with the reason — or
// failed, if DCVMAIL_REQUIRE_POSTGRES=1 or DCVMAIL_TEST_POSTGRES_URL is set.
func URL(t testing.TB) string {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("pgtest: PostgreSQL is required (%s=1) but not available: %v", EnvRequire, err)
		}
		if os.Getenv(EnvURL) != "" {
			t.Fatalf("pgtest: %v", err) // asked for that server: not a reason to skip
		}
		t.Skipf("pgtest: skipping, PostgreSQL not available: %v\n"+
			"To run this test, install the PostgreSQL 15 server (initdb, postgres; "+
			"directory can be set with %s) or point %s at a server; "+
			"set %s=1 to make this a failure instead of a skip.",
			err, EnvBin, EnvURL, EnvRequire)
	}
	if srv.cluster != nil && !mainUsed.Load() {
		warnOnce.Do(func() {
			t.Logf("pgtest: warning: pgtest.Main is not called from TestMain; " +
				"the cluster will not be removed when the tests end")
		})
	}

	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := execSQL(ctx, srv.admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if srv.external {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			// FORCE closes connections the test left open (PostgreSQL 13+).
			if err := execSQL(ctx, srv.admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Logf("pgtest: could not drop test database: %v", err)
			}
		})
	}
	u := *srv.admin
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func setup() {
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := parseURL(raw)
		if err != nil {
			setupErr = fmt.Errorf("%s: %w", EnvURL, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := execSQL(ctx, u, "SELECT 1"); err != nil {
			setupErr = fmt.Errorf("%s: %w", EnvURL, err)
			return
		}
		srv = &server{admin: u, external: true}
		return
	}
	c, err := pgcluster.Start(pgcluster.Options{Durable: os.Getenv(EnvDurable) == "1"})
	if err != nil {
		setupErr = err
		return
	}
	srv = &server{admin: c.AdminURL(), cluster: c}
}

// stop stops and removes the cluster, if one was started.
func stop() error {
	var c *pgcluster.Cluster
	once.Do(func() { setupErr = errors.New("pgtest: already stopped") })
	if srv != nil {
		c = srv.cluster
	}
	if c == nil {
		return nil
	}
	return c.Stop()
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL") // the error would repeat a password
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, errors.New("must be a postgres:// URL")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/postgres"
	}
	return u, nil
}

// execSQL runs one statement on a fresh connection to u.
func execSQL(ctx context.Context, u *url.URL, sql string) error { return pgcluster.Exec(ctx, u, sql) }

// dbName makes a database name that is unique among the test processes
// sharing a server and tells which test it belongs to.
func dbName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := fmt.Sprintf("pgtest_%s_%d_%s", runID, dbSeq.Add(1), b.String())
	const maxIdent = 63 // NAMEDATALEN-1
	if len(name) > maxIdent {
		name = name[:maxIdent]
	}
	return name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}
