package pgtest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Tests that call URL are skipped when PostgreSQL cannot be started, unless
// DCVMAIL_REQUIRE_POSTGRES=1 (then they fail).

func TestMain(m *testing.M) { Main(m) }

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestURL(t *testing.T) {
	dsn := URL(t)
	if info := StartupInfo(); info != "" {
		t.Logf("cluster: %s", info)
	}
	if !strings.HasPrefix(dsn, "postgres://") {
		t.Fatalf("URL = %q, want postgres://...", dsn)
	}
	db := open(t, dsn)
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var host string
	if err := db.QueryRow("SELECT host(inet_server_addr())").Scan(&host); err != nil {
		t.Fatal(err)
	}
	if info := StartupInfo(); info != "" && host != "127.0.0.1" {
		t.Errorf("connected to %s, want 127.0.0.1", host)
	}
}

func TestURLGivesSeparateEmptyDatabases(t *testing.T) {
	a, b := open(t, URL(t)), open(t, URL(t))
	names := map[string]bool{}
	for _, db := range []*sql.DB{a, b} {
		var name string
		if err := db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		names[name] = true
		var tables int
		if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("database %s has %d tables, want none", name, tables)
		}
	}
	if len(names) != 2 {
		t.Fatalf("two URL calls gave the same database: %v", names)
	}

	// A table made in one is not visible in the other.
	if _, err := a.Exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := b.QueryRow("SELECT to_regclass('t') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("table created in the first database is visible in the second")
	}
}

func TestURLConcurrent(t *testing.T) {
	for i := 0; i < 8; i++ {
		t.Run("parallel", func(t *testing.T) {
			t.Parallel()
			db := open(t, URL(t))
			if err := db.PingContext(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDBName(t *testing.T) {
	long := dbName(strings.Repeat("TestSomething/With Spaces-and-ÜTF8", 5))
	if len(long) > 63 {
		t.Errorf("len(%q) = %d, want <= 63", long, len(long))
	}
	if strings.ContainsFunc(long, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) {
		t.Errorf("dbName gave %q, want only [a-z0-9_]", long)
	}
	if dbName("T") == dbName("T") {
		t.Error("dbName is not unique")
	}
}

func TestParseURL(t *testing.T) {
	u, err := parseURL("postgres://u:secret@127.0.0.1:5432?sslmode=disable")
	if err != nil || u.Path != "/postgres" {
		t.Fatalf("parseURL = %v, %v", u, err)
	}
	if _, err := parseURL("host=localhost dbname=x"); err == nil {
		t.Error("key=value DSN accepted, want an error asking for a URL")
	}
}
