package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// result is what one run of the command line gave.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in-process, through the entry point main
// uses, with only the given environment variables.
func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errOut.String()}
}

// dataDir is a fresh --data directory with a migrated database.
func dataDir(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	dir = t.TempDir()
	env = map[string]string{"DCVMAIL_DATA": dir}
	if r := runCLI(t, "", env, "migrate"); r.code != 0 || r.stdout != "schema up to date\n" {
		t.Fatalf("migrate: %+v", r)
	}
	return dir, env
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.SQLiteURL(filepath.Join(dir, "dcvmail.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func assertOneLine(t *testing.T, r result) {
	t.Helper()
	if r.stderr == "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
}

// issue 13: every usage error is one line on stderr, exit status 2, and
// changes nothing: the data directory it names is not even created.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string // a part of stderr
	}{
		{"typo of a flag", []string{"serve", "--lsten", "127.0.0.1:0"}, nil, "unknown flag --lsten (did you mean --listen?)"},
		{"typo with one dash", []string{"mail", "list", "-jsno"}, nil, "unknown flag --jsno (did you mean --json?)"},
		{"unknown flag far from any", []string{"order", "show", "5", "--zzzzzzzz"}, nil, "unknown flag --zzzzzzzz"},
		{"extra word", []string{"serve", "extra-arg"}, nil, `unexpected argument "extra-arg": serve takes none`},
		{"extra word after flags", []string{"migrate", "--data", "x", "now"}, nil, `unexpected argument "now"`},
		{"order show without number", []string{"order", "show"}, nil, "order show needs one order number, got 0"},
		{"order show two numbers", []string{"order", "show", "1", "2"}, nil, "order show needs one order number, got 2"},
		{"order show not a number", []string{"order", "show", "abc", "--json"}, nil, `"abc" is not an order number`},
		{"flag without value", []string{"account", "add", "--login"}, nil, "--login needs a value"},
		{"bad number", []string{"mail", "list", "--order", "x"}, nil, `invalid value "x" for --order`},
		{"db path", []string{"serve", "--db", "./x.db"}, nil, "for a SQLite file write sqlite://./x.db"},
		{"db path of migrate", []string{"migrate", "--db", "data/x.db"}, nil, "sqlite://data/x.db"},
		{"db sqlite: form", []string{"migrate", "--db", "sqlite:x.db"}, nil, "write the SQLite file as sqlite://x.db"},
		{"db from env", []string{"mail", "list"}, map[string]string{"DCVMAIL_DB": "x.db"}, `DCVMAIL_DB "x.db" is not a database URL`},
		{"resolver without port", []string{"serve", "--dns-resolver", "nonsense"}, nil, `--dns-resolver "nonsense": missing port`},
		{"resolver IP without port", []string{"serve", "--dns-resolver", "192.0.2.53"}, nil, "(192.0.2.53:53)"},
		{"order add resolver", []string{"order", "add", "--account", "a", "--domain", "example.com", "--dns-resolver", "nonsense"}, nil, `--dns-resolver "nonsense"`},
		{"mail-from", []string{"serve", "--mail-from", "notanaddress"}, nil, `--mail-from "notanaddress": not a mail address`},
		{"listen", []string{"serve", "--listen", "nonsense"}, nil, `--listen "nonsense"`},
		{"admin-listen port", []string{"serve", "--admin-listen", "127.0.0.1:99999"}, nil, `--admin-listen "127.0.0.1:99999": port "99999"`},
		{"listen from env", []string{"serve"}, map[string]string{"DCVMAIL_LISTEN": "nonsense"}, `DCVMAIL_LISTEN "nonsense"`},
		{"duration from env", []string{"serve"}, map[string]string{"DCVMAIL_CODE_VALIDITY": "soon"}, `DCVMAIL_CODE_VALIDITY="soon"`},
		{"public url", []string{"serve", "--public-url", "dcv.example.com"}, nil, `--public-url "dcv.example.com": want an absolute URL`},
		{"smtp url", []string{"serve", "--smtp", "mail.example.com:587"}, nil, "--smtp: want smtp://"},
		{"trusted proxy", []string{"serve", "--trusted-proxy", "office"}, nil, `--trusted-proxy "office"`},
		{"log format", []string{"serve", "--log-format", "xml"}, nil, `--log-format "xml": want text or json`},
		{"bool value", []string{"serve", "--demo=maybe"}, nil, "--demo"},
		{"group without subcommand", []string{"account"}, nil, "account needs a subcommand: add, set, unlock"},
		{"group with a flag only", []string{"order", "--json"}, nil, "order needs a subcommand: add, show"},
		{"unknown subcommand", []string{"account", "sett"}, nil, `unknown command "account sett" (did you mean "account set"?)`},
		{"unknown command", []string{"acount", "add"}, nil, `unknown command "acount" (did you mean "account"?)`},
		{"account add without login", []string{"account", "add"}, nil, "--login NAME is required"},
		{"account set nothing to change", []string{"account", "set", "--login", "ann"}, nil, "nothing to change"},
		{"login with space", []string{"account", "unlock", "--login", "a b"}, nil, "no spaces"},
		{"unlock bad source", []string{"account", "unlock", "--login", "ann", "--source", "nowhere"}, nil, `--source "nowhere": not an IP address`},
		{"order add without domain", []string{"order", "add", "--account", "ann"}, nil, "--account and at least one --domain are required"},
		{"order add bad dcv email", []string{"order", "add", "--account", "ann", "--domain", "example.com", "--dcv-email", "admin"}, nil, `--dcv-email "admin": not a mail address`},
		{"template add without file", []string{"template", "add", "--id", "2"}, nil, "--id (1 or more) and --file are required"},
		{"mail list since", []string{"mail", "list", "--since", "yesterday"}, nil, `--since "yesterday": want a time`},
		{"mail list since from env", []string{"mail", "list"}, map[string]string{"DCVMAIL_SINCE": "-5m"}, `DCVMAIL_SINCE "-5m"`},
		{"version takes no argument", []string{"version", "now"}, nil, `unexpected argument "now"`},
		{"client url without scheme", []string{"client", "status", "--url", "127.0.0.1:18443", "--login", "x", "--order", "1"},
			map[string]string{"DCVMAIL_CLIENT_PASSWORD": "pw"}, `--url "127.0.0.1:18443": want the API's base URL with its scheme, e.g. https://127.0.0.1:18443`},
		{"client typo", []string{"client", "status", "--url", "https://127.0.0.1:1", "--ordre", "1"}, nil, "unknown flag --ordre (did you mean --order?)"},
		{"bench typo", []string{"bench", "--oders", "5"}, nil, "unknown flag --oders (did you mean --orders?)"},
		{"bench extra word", []string{"bench", "now"}, nil, `unexpected argument "now"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := filepath.Join(t.TempDir(), "data")
			env := map[string]string{"DCVMAIL_DATA": data}
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, "", env, tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tt.want)
			}
			assertOneLine(t, r)
			if strings.Contains(r.stderr, "BaseURL") || strings.Contains(r.stderr, "Usage of") {
				t.Errorf("stderr speaks Go: %q", r.stderr)
			}
			if _, err := os.Stat(data); err == nil {
				t.Errorf("a usage error created %s", data)
			}
		})
	}
}

// issue 13: without arguments the overview goes to stderr with status 2.
func TestNoArguments(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "", nil)
	if r.code != ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, "usage: dcvmail COMMAND") {
		t.Fatalf("%+v", r)
	}
}

// goDefault matches the flag package's own listing ("  -name").
var goDefault = regexp.MustCompile(`\n  -[a-z]`)

// issue 13: every command has its own help, with examples and the exit
// statuses, on stdout with status 0; a group's -h lists its commands.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		if c.raw != nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{append(strings.Fields(c.name), "-h"), append([]string{"help"}, strings.Fields(c.name)...), append(strings.Fields(c.name), "--help")} {
				r := runCLI(t, "", nil, args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("%v: %+v", args, r)
				}
				for _, want := range []string{"usage: dcvmail " + c.name, "\nExamples:\n", "Exit status: 0 success, 1 failure (one line on stderr), 2 usage error."} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("%v lacks %q:\n%s", args, want, r.stdout)
					}
				}
				if _, examples, _ := strings.Cut(r.stdout, "\nExamples:\n"); !strings.Contains(examples, "dcvmail "+c.name) {
					t.Errorf("%v: no example of the command:\n%s", args, r.stdout)
				}
				if strings.Contains(r.stdout, "Usage of") || goDefault.MatchString(r.stdout) {
					t.Errorf("%v: Go's default help:\n%s", args, r.stdout)
				}
			}
		})
	}
	for _, tt := range []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"-h"}, []string{"usage: dcvmail COMMAND", "account unlock", "mail list", "Exit status: 0 success, 1 failure"}, nil},
		{[]string{"help"}, []string{"usage: dcvmail COMMAND"}, nil},
		{[]string{"account", "-h"}, []string{"usage: dcvmail account COMMAND", "dcvmail account add", "dcvmail account set", "dcvmail account unlock", "Exit status"}, []string{"order add"}},
		{[]string{"order", "help"}, []string{"dcvmail order add", "dcvmail order show"}, []string{"account"}},
		{[]string{"account", "set", "-h"}, []string{"usage: dcvmail account set", "--disabled", "--read-only", "Only the flags given change"}, []string{"prints a generated password", "account add"}},
		{[]string{"account", "add", "-h"}, []string{"usage: dcvmail account add", "--disabled", "--password-stdin", "  --login NAME\n"}, nil},
		{[]string{"serve", "-h"}, []string{"--listen ADDR", "(default 127.0.0.1:8443) [$DCVMAIL_LISTEN]", "--data DIR", "--demo"}, nil},
		{[]string{"mail", "list", "-h"}, []string{"--to ADDR", "--since TIME", "--order N", "--json"}, nil},
		{[]string{"client", "resend", "-h"}, []string{"usage: dcvmail client resend", "--url URL", "Example:", "Exit status: 0 errorCode 0, 1 negative errorCode, 2 usage error, 3 no answer."}, []string{"$DCVMAIL_URL"}},
		{[]string{"bench", "-h"}, []string{"usage: dcvmail bench", "--orders INT", "Exit status"}, nil},
	} {
		r := runCLI(t, "", nil, tt.args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%v: %+v", tt.args, r)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v lacks %q:\n%s", tt.args, w, r.stdout)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%v shows %q:\n%s", tt.args, w, r.stdout)
			}
		}
	}
}

// issue 13: a command that reads or changes what exists refuses a data
// directory or database that is not there, instead of creating an empty
// one and answering from it.
func TestMissingDatabaseRefused(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	typo := filepath.Join(parent, "typo-dir")
	empty := t.TempDir() // exists, holds no database
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"mail list, mistyped dir", []string{"mail", "list", "--data", typo}, "--data " + typo + ": no such directory"},
		{"order show, mistyped dir, flags after", []string{"order", "show", "10000002", "--json", "--data", typo}, "no such directory"},
		{"order add", []string{"order", "add", "--account", "a", "--domain", "example.com", "--data", typo}, "no such directory"},
		{"account set", []string{"account", "set", "--login", "a", "--disabled", "--data", typo}, "no such directory"},
		{"account unlock", []string{"account", "unlock", "--login", "a", "--data", typo}, "no such directory"},
		{"empty dir", []string{"mail", "list", "--data", empty}, "--data " + empty + " holds no database"},
		{"db file", []string{"mail", "list", "--db", "sqlite://" + filepath.Join(parent, "none.db")}, "--db: no database at " + filepath.Join(parent, "none.db")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", nil, tt.args...)
			if r.code != ExitFailure || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and %q", r.code, r.stdout, r.stderr, tt.want)
			}
			assertOneLine(t, r)
		})
	}
	if _, err := os.Stat(typo); err == nil {
		t.Error("the mistyped directory was created")
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("files appeared in the empty directory: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(parent, "none.db")); err == nil {
		t.Error("the missing database file was created")
	}
	// The name of the setting is the one the user used.
	r := runCLI(t, "", map[string]string{"DCVMAIL_DATA": typo}, "mail", "list")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "DCVMAIL_DATA "+typo+": no such directory") {
		t.Fatalf("%+v", r)
	}
}

// issue 13: account add checks the login before printing a password,
// --disabled creates a disabled account, account set changes only what it
// is given.
func TestAccountAddAndSet(t *testing.T) {
	t.Parallel()
	dir, env := dataDir(t)
	st := openStore(t, dir)
	auth := accounts.NewAuthenticator(st, accounts.WithoutCache())
	ctx := context.Background()

	r := runCLI(t, "", env, "account", "add", "--login", "ann")
	password := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(password) < 20 || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Fatalf("account add: %+v", r)
	}
	if _, err := auth.Authenticate(ctx, "ann", password); err != nil {
		t.Fatalf("the printed password does not work: %v", err)
	}

	// The same login again: refused before any password is printed.
	for _, args := range [][]string{{"account", "add", "--login", "ann"}, {"account", "add", "--login", "ann", "--password-stdin"}} {
		r = runCLI(t, "another-pass\n", env, args...)
		if r.code != ExitFailure || r.stdout != "" || !strings.Contains(r.stderr, `account "ann" exists already (use dcvmail account set)`) {
			t.Fatalf("%v: %+v", args, r)
		}
		assertOneLine(t, r)
	}
	if _, err := auth.Authenticate(ctx, "ann", password); err != nil {
		t.Fatalf("the refused add changed the account: %v", err)
	}

	// --disabled, from the command line or the environment; flags anywhere.
	r = runCLI(t, "pw-of-dora\n", env, "account", "add", "--password-stdin", "--login", "dora", "--disabled")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("add --disabled: %+v", r)
	}
	if _, err := auth.Authenticate(ctx, "dora", "pw-of-dora"); err == nil {
		t.Fatal("account add --disabled created an enabled account")
	}
	r = runCLI(t, "", env, "account", "set", "--login", "dora", "--disabled=false")
	if r.code != 0 {
		t.Fatalf("set --disabled=false: %+v", r)
	}
	if _, err := auth.Authenticate(ctx, "dora", "pw-of-dora"); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	// A new password; the flags not given stay.
	r = runCLI(t, "second-pass\n", env, "account", "set", "--login", "dora", "--password-stdin")
	if r.code != 0 {
		t.Fatalf("set password: %+v", r)
	}
	a, err := auth.Authenticate(ctx, "dora", "second-pass")
	if err != nil || a.Disabled || a.ReadOnly {
		t.Fatalf("after the password change: %+v, %v", a, err)
	}
	envRO := map[string]string{"DCVMAIL_DATA": dir, "DCVMAIL_READ_ONLY": "true"}
	if r = runCLI(t, "", envRO, "account", "set", "--login", "dora"); r.code != 0 {
		t.Fatalf("set from the environment: %+v", r)
	}
	if a, err := auth.Authenticate(ctx, "dora", "second-pass"); err != nil || !a.ReadOnly {
		t.Fatalf("DCVMAIL_READ_ONLY=true: %+v, %v", a, err)
	}

	r = runCLI(t, "", env, "account", "set", "--login", "nobody", "--disabled")
	if r.code != ExitFailure || !strings.Contains(r.stderr, `no account "nobody"`) {
		t.Fatalf("set of a missing account: %+v", r)
	}
	r = runCLI(t, "", env, "account", "add", "--login", "eve", "--password-stdin")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "no password on stdin") {
		t.Fatalf("empty stdin: %+v", r)
	}
}

// issue 15: account unlock ends a login's lockout at once; with --source
// also the source address's.
func TestAccountUnlock(t *testing.T) {
	t.Parallel()
	dir, env := dataDir(t)
	if r := runCLI(t, "right-pass\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	st := openStore(t, dir)
	ctx := context.Background()
	lock, err := accounts.NewLockout(ctx, st, accounts.LockoutPolicy{LoginFailures: 3, SourceFailures: 5, Window: time.Hour, Duration: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := accounts.NewAuthenticator(st, accounts.WithoutCache(), accounts.WithLockout(lock))
	stranger := netip.MustParseAddr("203.0.113.7")
	owner := netip.MustParseAddr("198.51.100.1")
	// Guesses from one source lock the login from that source (issue 16:
	// only there): even the right password is refused from it.
	for range 3 {
		auth.AuthenticateFrom(ctx, "ann", "guess", stranger)
	}
	if _, err := auth.AuthenticateFrom(ctx, "ann", "right-pass", stranger); err == nil {
		t.Fatal("the login is not locked from its source after 3 failures")
	}
	if _, err := auth.AuthenticateFrom(ctx, "ann", "right-pass", owner); err != nil {
		t.Fatalf("a stranger's failures locked the owner's source: %v", err)
	}

	r := runCLI(t, "", env, "account", "unlock", "--login", "ann")
	if r.code != 0 || r.stdout != "login \"ann\" unlocked: failed logins forgotten\n" {
		t.Fatalf("unlock: %+v", r)
	}
	if _, err := auth.AuthenticateFrom(ctx, "ann", "right-pass", stranger); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	r = runCLI(t, "", env, "account", "unlock", "--login", "ann")
	if r.code != 0 || !strings.Contains(r.stdout, "had no failed logins") {
		t.Fatalf("second unlock: %+v", r)
	}

	// The stranger's address, locked by its own failures, is unlocked with --source.
	for range 5 {
		auth.AuthenticateFrom(ctx, "someone-else", "guess", stranger)
	}
	// (ann logged in from it above, so the source lock spares ann: bob, who
	// never did, is refused.)
	if r := runCLI(t, "bob-pass\n", env, "account", "add", "--login", "bob", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	if _, err := auth.AuthenticateFrom(ctx, "bob", "bob-pass", stranger); err == nil {
		t.Fatal("the source is not locked after 5 failures")
	}
	r = runCLI(t, "", env, "account", "unlock", "--login", "someone-else", "--source", "203.0.113.7")
	if r.code != 0 || !strings.Contains(r.stdout, "and source 203.0.113.7 unlocked") {
		t.Fatalf("unlock --source: %+v", r)
	}
	if _, err := auth.AuthenticateFrom(ctx, "bob", "bob-pass", stranger); err != nil {
		t.Fatalf("after unlock --source: %v", err)
	}
}

// issue 13: flags after the order number; order add prints digits only.
func TestOrderAddAndShow(t *testing.T) {
	t.Parallel()
	_, env := dataDir(t)
	if r := runCLI(t, "pw-of-ann\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", "example.com", "--dcv-email", "admin@example.com")
	n, err := strconv.ParseInt(strings.TrimSuffix(r.stdout, "\n"), 10, 64)
	if r.code != 0 || err != nil || r.stderr != "" {
		t.Fatalf("order add: %+v", r)
	}
	for _, args := range [][]string{
		{"order", "show", strconv.FormatInt(n, 10), "--json"},
		{"order", "show", "--json", strconv.FormatInt(n, 10)},
		{"order", "show", "--data", env["DCVMAIL_DATA"], strconv.FormatInt(n, 10), "--json"},
	} {
		r = runCLI(t, "", env, args...)
		var v struct {
			OrderNumber int64 `json:"orderNumber"`
			Domains     []struct {
				Name      string `json:"domainName"`
				Recipient string `json:"dcvEmailAddress"`
			} `json:"domains"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.OrderNumber != n ||
			len(v.Domains) != 1 || v.Domains[0].Name != "example.com" || v.Domains[0].Recipient != "admin@example.com" {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r = runCLI(t, "", env, "order", "show", "999999")
	if r.code != ExitFailure || r.stderr != "dcvmail: no order 999999\n" {
		t.Fatalf("missing order: %+v", r)
	}
	r = runCLI(t, "", env, "order", "add", "--account", "nobody", "--domain", "example.com")
	if r.code != ExitFailure || !strings.Contains(r.stderr, `no account "nobody"`) || r.stdout != "" {
		t.Fatalf("order of a missing account: %+v", r)
	}
}

// issue 15: mail list's filters, its short table and its JSON records
// (the fields other tools parse).
func TestMailList(t *testing.T) {
	t.Parallel()
	dir, env := dataDir(t)
	st := openStore(t, dir)
	ctx := context.Background()
	// Three real deliveries (the mailbox keeps only what the outbox sent)...
	if r := runCLI(t, "pw-of-ann\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	var orders [2]int64
	for i, domain := range []string{"example.com", "example.org"} {
		r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", domain)
		orders[i], _ = strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	}
	for _, a := range [][]string{{"0", "admin@example.com"}, {"0", "hostmaster@example.com"}, {"1", "admin@example.org"}} {
		i, _ := strconv.Atoi(a[0])
		if r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", []string{"example.com", "example.org"}[i], "--dcv-email", a[1]); r.code != 0 {
			t.Fatal(r)
		}
	}
	delivery := func(k int) int64 {
		var id int64
		if err := st.QueryRow(ctx, `SELECT id FROM outbox ORDER BY id LIMIT 1 OFFSET `+strconv.Itoa(k), &id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// ...captured as the built-in mailbox captures them, at known times.
	base := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	msgs := []model.CapturedMail{
		{DeliveryID: delivery(0), OrderNumber: orders[0], From: "dcvmail@localhost", To: "admin@example.com", Subject: "DCV for example.com", Text: "code AAA\n", DCVCode: "AAA", Raw: "raw1", Captured: base},
		{DeliveryID: delivery(1), OrderNumber: orders[0], From: "dcvmail@localhost", To: "Hostmaster@Example.com", Subject: "DCV for example.com", Text: "code BBB\n", DCVCode: "BBB", Raw: "raw2", Captured: base.Add(time.Hour)},
		{DeliveryID: delivery(2), OrderNumber: orders[1], From: "dcvmail@localhost", To: "admin@example.org", Subject: "DCV for example.org", Text: "code CCC\n", DCVCode: "CCC", Raw: "raw3", Captured: base.Add(2 * time.Hour)},
	}
	for _, m := range msgs {
		if err := st.Capture(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	first, second := strconv.FormatInt(orders[0], 10), strconv.FormatInt(orders[1], 10)
	for _, tt := range []struct {
		name  string
		args  []string
		codes []string
	}{
		{"all", nil, []string{"AAA", "BBB", "CCC"}},
		{"order", []string{"--order", first}, []string{"AAA", "BBB"}},
		{"to, any case", []string{"--to", "hostmaster@example.COM"}, []string{"BBB"}},
		{"to and order", []string{"--to", "admin@example.com", "--order", second}, nil},
		{"to and order, both", []string{"--order", second, "--to", "ADMIN@example.org"}, []string{"CCC"}},
		{"since a time", []string{"--since", "2026-03-15T11:00:00Z"}, []string{"BBB", "CCC"}},
		{"since a date", []string{"--since", "2026-03-16"}, nil},
		{"since a duration", []string{"--since", "1000000h"}, []string{"AAA", "BBB", "CCC"}},
		{"no match", []string{"--to", "nobody@example.com"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", env, append([]string{"mail", "list", "--json"}, tt.args...)...)
			var got []struct {
				To          string `json:"to"`
				Subject     string `json:"subject"`
				Text        string `json:"text"`
				OrderNumber int64  `json:"orderNumber"`
				DCVCode     string `json:"dcvCode"`
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got == nil {
				t.Fatalf("%+v", r)
			}
			var codes []string
			for _, m := range got {
				codes = append(codes, m.DCVCode)
				if m.To == "" || m.Subject == "" || !strings.HasPrefix(m.Text, "code ") || m.OrderNumber == 0 {
					t.Errorf("record lacks a field: %+v", m)
				}
			}
			if !slices.Equal(codes, tt.codes) {
				t.Fatalf("codes %v, want %v", codes, tt.codes)
			}
			// The table shows the same messages, one line each after the header.
			r = runCLI(t, "", env, append([]string{"mail", "list"}, tt.args...)...)
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if r.code != 0 || len(lines) != 1+len(tt.codes) || !strings.HasPrefix(lines[0], "ID") {
				t.Fatalf("table: %+v", r)
			}
			for i, c := range tt.codes {
				if !strings.Contains(lines[i+1], c) || strings.Contains(lines[i+1], "raw") {
					t.Errorf("table line %q, want code %s and no raw message", lines[i+1], c)
				}
			}
		})
	}
}

// issue 13: the version comes from -ldflags, else from what the toolchain
// stamped.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "dcvmail ") {
		t.Fatalf("%+v", r)
	}
	if r2 := runCLI(t, "", nil, "--version"); r2.stdout != r.stdout {
		t.Fatalf("--version %q, version %q", r2.stdout, r.stdout)
	}
}

// issue 13: the PostgreSQL driver's "no such host" is printed once. (The
// message is the driver's, as seen; a real lookup would leave loopback.)
func TestOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"store: connect: failed to connect to `user=u database=db`: hostname resolving error: lookup nohost.invalid on 10.255.255.53:53: no such host\nlookup nohost.invalid on 10.255.255.53:53: no such host": "store: connect: failed to connect to `user=u database=db`: hostname resolving error: lookup nohost.invalid on 10.255.255.53:53: no such host",
		"no order 42":               "no order 42",
		"two\nlines":                "two lines",
		"short x short x":           "short x short x",
		"a: disk full a: disk full": "a: disk full",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// issue 13: a value from the environment that the server refuses is named
// by its variable, not by a flag the user never typed.
func TestServerErrorNamesVariable(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DCVMAIL_DATA": t.TempDir(), "DCVMAIL_LISTEN": "192.0.2.1:0", "DCVMAIL_DNS_RESOLVER": "none"}
	r := runCLI(t, "", env, "serve")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "\ndcvmail: DCVMAIL_LISTEN: listen tcp 192.0.2.1:0") && !strings.HasPrefix(r.stderr, "dcvmail: DCVMAIL_LISTEN: listen tcp 192.0.2.1:0") || strings.Contains(r.stderr, "--listen") {
		t.Fatalf("%+v", r)
	}
	r = runCLI(t, "", env, "serve", "--listen", "192.0.2.1:0")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "dcvmail: --listen: listen tcp") {
		t.Fatalf("flag: %+v", r)
	}
}

// issue 13: a certificate the client does not trust gets the --ca hint,
// through the command line's entry point.
func TestClientTLSHint(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	r := runCLI(t, "", map[string]string{"DCVMAIL_CLIENT_PASSWORD": "pw"}, "client", "status", "--url", srv.URL, "--login", "x", "--order", "1", "--timeout", "5s")
	if r.code != 3 || !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "--ca DATA/tls-cert.pem") {
		t.Fatalf("%+v", r)
	}
}

// template add: stored for the accounts named, refused with one line and
// nothing stored for a bad file or an unknown account.
func TestTemplateAdd(t *testing.T) {
	t.Parallel()
	dir, env := dataDir(t)
	if r := runCLI(t, "pw-of-ann\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	good := filepath.Join(t.TempDir(), "good.tmpl")
	os.WriteFile(good, []byte("Subject: Confirm {{index .Domains 0}}\n\nEnter {{.Code}} at {{.PageURL}}.\n"), 0o600)
	bad := filepath.Join(t.TempDir(), "bad.tmpl")
	os.WriteFile(bad, []byte("Subject: no code\n\nHello {{.Password}}\n"), 0o600)
	st := openStore(t, dir)
	ctx := context.Background()
	ann, err := st.AccountByLogin(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", "7", "--file", bad}, bad + ":"},
		{[]string{"--id", "7", "--file", good, "--account", "nobody"}, `--account "nobody": no such account`},
		{[]string{"--id", "7", "--file", filepath.Join(t.TempDir(), "missing.tmpl")}, "missing.tmpl"},
	} {
		r := runCLI(t, "", env, append([]string{"template", "add"}, tt.args...)...)
		if r.code != ExitFailure || !strings.Contains(r.stderr, tt.want) {
			t.Fatalf("%v: %+v", tt.args, r)
		}
		assertOneLine(t, r)
		if _, err := st.UsableTemplate(ctx, 7, ann.ID); err == nil {
			t.Fatalf("%v: a refused template was stored", tt.args)
		}
	}
	// Flags after the subcommand in any order, the account given.
	if r := runCLI(t, "", env, "template", "add", "--file", good, "--account", "ann", "--id", "7"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("template add: %+v", r)
	}
	tm, err := st.UsableTemplate(ctx, 7, ann.ID)
	if err != nil || !strings.Contains(tm.Subject, "Confirm") {
		t.Fatalf("stored template: %+v, %v", tm, err)
	}
}

// account set --credit and --customer-pays keep the account's terms, by
// the rules the admin API applies (docs/control.md).
func TestAccountSetCreditTerms(t *testing.T) {
	dir, env := dataDir(t)
	if r := runCLI(t, "pw\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatalf("add: %+v", r)
	}
	if r := runCLI(t, "", env, "account", "set", "--login", "ann", "--credit", "12.5", "--customer-pays"); r.code != 0 {
		t.Fatalf("set: %+v", r)
	}
	st := openStore(t, dir)
	a, err := st.AccountByLogin(context.Background(), "ann")
	if err != nil {
		t.Fatal(err)
	}
	terms, err := st.AccountTerms(context.Background(), a.ID)
	if err != nil || terms.CreditCents == nil || *terms.CreditCents != 1250 || !terms.CustomerPays {
		t.Fatalf("terms: %+v %v", terms, err)
	}
	r := runCLI(t, "", env, "account", "set", "--login", "ann", "--credit", "-3")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "credit") {
		t.Fatalf("bad credit: %+v", r)
	}
	if terms, _ := st.AccountTerms(context.Background(), a.ID); *terms.CreditCents != 1250 {
		t.Fatalf("a refused set changed the credit: %+v", terms)
	}
}
