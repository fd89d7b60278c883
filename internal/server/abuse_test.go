package server

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
)

const badLoginAnswer = "errorCode=-16&errorMessage=Incorrect+login+details%2C+account+is+locked%2C+password+has+expired%2C+or+your+source+IP+is+blocked%21"

// proxiedResend returns a function that posts a ResendDCVEmail for order
// as login from client, through the trusted proxy 127.0.0.1 (the client's
// address is the rightmost X-Forwarded-For entry; the left one is forged
// and ignored).
func proxiedResend(t *testing.T, ts *testServer, order int64) func(login, pw, client string) string {
	c := ts.client(t)
	return func(login, pw, client string) string {
		t.Helper()
		return ts.post(t, c, "/products/!ResendDCVEmail", "loginName="+login+"&loginPassword="+pw+"&orderNumber="+strconv.FormatInt(order, 10),
			"X-Forwarded-For", "192.0.2.99, "+client)
	}
}

// Issue 16, item 2: a stranger who knows a login name locks it only for
// the source it guesses from: the account's owner, from the address it
// logged in from before, and anyone else from another address, still get
// in with the right password, also a cached one.
func TestStrangerLocksOnlyItsOwnSource(t *testing.T) {
	ts := startServer(t, func(c *config.Serve) { c.TrustedProxies = config.List{"127.0.0.0/8"} })
	order := ts.addAccount(t, "alice", "alice-pw", "example.com")
	resend := proxiedResend(t, ts, order)
	if got := resend("alice", "alice-pw", "203.0.113.10"); got != "errorCode=0" {
		t.Fatalf("first login: %q", got)
	}
	for i := range 20 {
		if got := resend("alice", "guess"+strconv.Itoa(i), "198.51.100.66"); got != badLoginAnswer {
			t.Fatalf("guess %d: %q", i, got)
		}
	}
	if got := resend("alice", "alice-pw", "198.51.100.66"); got != badLoginAnswer {
		t.Fatalf("the guessing source got in after 20 failures: %q", got)
	}
	if got := resend("alice", "alice-pw", "203.0.113.10"); got != "errorCode=0" {
		t.Fatalf("the owner, from its usual address, was locked out by a stranger: %q", got)
	}
	if got := resend("alice", "alice-pw", "2001:db8:77::1"); got != "errorCode=0" {
		t.Fatalf("a new source with the right password was locked out by a stranger: %q", got)
	}
	if !strings.Contains(ts.log.String(), "login locked") || !strings.Contains(ts.log.String(), "source=198.51.100.66") {
		t.Fatalf("the lock was not logged with its source:\n%s", ts.log)
	}
}

// Issue 16, item 2: failures with random login names lock their source
// for strangers, but an account that logged in from that address (a NAT
// shared with the attacker) keeps access.
func TestSourceLockSparesKnownAccounts(t *testing.T) {
	ts := startServer(t, func(c *config.Serve) {
		c.TrustedProxies = config.List{"127.0.0.0/8"}
		c.Limits.SourceFailures = 5
	})
	order := ts.addAccount(t, "alice", "alice-pw", "example.com")
	ts.addAccount(t, "bob", "bob-pw", "")
	resend := proxiedResend(t, ts, order)
	if got := resend("alice", "alice-pw", "203.0.113.20"); got != "errorCode=0" {
		t.Fatalf("first login: %q", got)
	}
	ts.clock.Advance(24 * time.Hour)
	for i := range 5 {
		resend("random"+strconv.Itoa(i), "x", "203.0.113.20")
	}
	if got := resend("bob", "bob-pw", "203.0.113.20"); got != badLoginAnswer {
		t.Fatalf("a login that never succeeded from the locked source got in: %q", got)
	}
	if got := resend("alice", "alice-pw", "203.0.113.20"); got != "errorCode=0" {
		t.Fatalf("alice, who logged in from this address yesterday, was locked out: %q", got)
	}
}

// adminGet sends a GET to the admin listener with a Host and headers.
func adminGet(t *testing.T, ts *testServer, path, host string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.AdminURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 16, item 6: the admin listener answers only to its own names
// (421 otherwise: DNS rebinding), and with a token configured every path
// but /healthz and /readyz needs it.
func TestAdminListenerGuard(t *testing.T) {
	ts := startServer(t, func(c *config.Serve) { c.AdminListen = "127.0.0.1:0" })
	self := strings.TrimPrefix(ts.AdminURL(), "http://")
	if got := adminGet(t, ts, "/mailbox?order=1", "rebind.attacker.example"); got != http.StatusMisdirectedRequest {
		t.Fatalf("a foreign Host got %d, want 421", got)
	}
	for _, host := range []string{self, "localhost:1", "127.0.0.1"} {
		if got := adminGet(t, ts, "/mailbox?order=1", host); got != http.StatusOK {
			t.Fatalf("Host %s got %d, want 200 (no token configured on loopback)", host, got)
		}
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-admin-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tt := startServer(t, func(c *config.Serve) {
		c.AdminListen = "127.0.0.1:0"
		c.Guard.AdminTokenFile = tokenFile
		c.Guard.AdminHosts = config.List{"dcvmail.internal"}
	})
	self = strings.TrimPrefix(tt.AdminURL(), "http://")
	for _, tc := range []struct {
		path, host string
		header     []string
		want       int
	}{
		{"/mailbox", self, nil, http.StatusUnauthorized},
		{"/mailbox", self, []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
		{"/mailbox", self, []string{"Authorization", "Bearer s3cret-admin-token"}, http.StatusOK},
		{"/status", "dcvmail.internal:8080", []string{"Authorization", "Bearer s3cret-admin-token"}, http.StatusOK},
		{"/mailbox", "evil.example", []string{"Authorization", "Bearer s3cret-admin-token"}, http.StatusMisdirectedRequest},
		{"/healthz", self, nil, http.StatusOK},
	} {
		if got := adminGet(t, tt, tc.path, tc.host, tc.header...); got != tc.want {
			t.Errorf("%s Host %s %v: %d, want %d", tc.path, tc.host, tc.header, got, tc.want)
		}
	}
}

// Issue 16, item 6: serve refuses a non-loopback admin listener without a
// token.
func TestAdminListenerNeedsTokenOffLoopback(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Serve{Common: config.Common{Data: dir}, Listen: "127.0.0.1:0", AdminListen: "0.0.0.0:0",
		MailFrom: "dcv@dcvmail.test", DNSResolvers: config.List{"none"}}
	srv, err := New(context.Background(), cfg)
	if err == nil {
		srv.Close()
		t.Fatal("a non-loopback admin listener without a token was accepted")
	}
	if !strings.Contains(err.Error(), "--admin-token-file") {
		t.Fatalf("the refusal does not say what to do: %v", err)
	}
}

// demoConfig is a loopback server's configuration on dir.
func demoConfig(dir string, demo bool) config.Serve {
	return config.Serve{Common: config.Common{Data: dir}, Listen: "127.0.0.1:0", Demo: demo,
		MailFrom: "dcv@dcvmail.test", DNSResolvers: config.List{"none"},
		CodeValidity: dcv.DefaultPolicy.CodeValidity, ResendBurst: dcv.DefaultPolicy.ResendBurst, ResendInterval: dcv.DefaultPolicy.ResendInterval}
}

// Issue 16, item 7: --demo warns with the public password, is refused
// with --smtp or a non-loopback --listen unless --demo-unsafe, and its
// account is disabled when the server starts without --demo.
func TestDemoIsLoudAndNotSticky(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var log syncbuf.Buffer
	srv, err := New(ctx, demoConfig(dir, true), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), DemoPassword) {
		t.Fatalf("--demo did not warn with its password:\n%s", log.String())
	}
	srv.Close()
	srv, err = New(ctx, demoConfig(dir, false), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.App.Store.AccountByLogin(ctx, DemoLogin)
	srv.Close()
	if err != nil || !a.Disabled {
		t.Fatalf("after a start without --demo the demo account is %+v (%v), want disabled", a, err)
	}
	srv, err = New(ctx, demoConfig(dir, true), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	a, _ = srv.App.Store.AccountByLogin(ctx, DemoLogin)
	srv.Close()
	if a.Disabled {
		t.Fatal("--demo did not enable the demo account again")
	}

	withSMTP := demoConfig(t.TempDir(), true)
	withSMTP.SMTP = "smtp://127.0.0.1:9"
	public := demoConfig(t.TempDir(), true)
	public.Listen = "0.0.0.0:0"
	for name, cfg := range map[string]config.Serve{"smtp": withSMTP, "public listen": public} {
		if srv, err := New(ctx, cfg, WithLogger(slog.New(slog.DiscardHandler))); err == nil {
			srv.Close()
			t.Fatalf("%s: --demo was accepted", name)
		} else if !strings.Contains(err.Error(), "--demo-unsafe") {
			t.Fatalf("%s: the refusal does not name the override: %v", name, err)
		}
		cfg.Guard.DemoUnsafe = true
		srv, err := New(ctx, cfg, WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatalf("%s with --demo-unsafe: %v", name, err)
		}
		srv.Close()
	}
}
