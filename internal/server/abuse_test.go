package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
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
