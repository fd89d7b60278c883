package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/pgtest"
)

// childEnv marks a run of the test binary as a dcvmail process (startServe):
// TestMain then runs the command line, as main does, instead of the tests.
const childEnv = "DCVMAIL_CLI_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(Run(os.Args[1:], OS()))
	}
	pgtest.Main(m)
}

// issue 13: on PostgreSQL too, a command that reads what exists refuses a
// database where dcvmail never ran, instead of creating its schema and
// answering from it; after migrate it works.
func TestPostgresEmptyDatabaseRefused(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	env := map[string]string{"DCVMAIL_DB": db}
	for _, args := range [][]string{{"mail", "list"}, {"order", "show", "5"}, {"account", "unlock", "--login", "x"}} {
		r := runCLI(t, "", env, args...)
		if r.code != ExitFailure || r.stdout != "" || !strings.Contains(r.stderr, "DCVMAIL_DB: the database holds no dcvmail data") {
			t.Fatalf("%v: %+v", args, r)
		}
		assertOneLine(t, r)
	}
	// Still empty: a second look finds no schema either.
	if r := runCLI(t, "", env, "mail", "list"); r.code != ExitFailure {
		t.Fatalf("the refused command created the schema: %+v", r)
	}
	if r := runCLI(t, "", env, "migrate"); r.code != 0 {
		t.Fatal(r)
	}
	if r := runCLI(t, "", env, "mail", "list", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("after migrate: %+v", r)
	}
	if r := runCLI(t, "", env, "order", "show", "5"); r.code != ExitFailure || r.stderr != "dcvmail: no order 5\n" {
		t.Fatalf("after migrate: %+v", r)
	}
}
