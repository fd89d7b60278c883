package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
	"golang.org/x/crypto/argon2"
)

// cheapHash is an argon2id hash with tiny parameters: these tests count
// argon2id runs rather than spend 19 MiB and tens of milliseconds on each.
func cheapHash(password string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 1, 8, 1, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// lockoutFixture is an Authenticator with a Lockout over a real store, a
// fake clock and a captured log; alice and bob have accounts.
type lockoutFixture struct {
	st    *store.Store
	auth  *Authenticator
	clock *clock.Fake
	log   *syncbuf.Buffer
}

var (
	srcA = netip.MustParseAddr("192.0.2.1")
	srcB = netip.MustParseAddr("198.51.100.2")
)

func newLockoutFixture(t *testing.T, dbURL string, policy LockoutPolicy) *lockoutFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &lockoutFixture{st: st, clock: clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)), log: &syncbuf.Buffer{}}
	for _, login := range []string{"alice", "bob"} {
		if _, err := st.Direct().CreateAccount(ctx, model.Account{Login: login, PasswordHash: cheapHash(login + "-right"), Created: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	lo, err := NewLockout(ctx, st, policy, slog.New(slog.NewTextHandler(f.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.auth = NewAuthenticator(st, WithClock(f.clock), WithLockout(lo))
	f.auth.dummy = cheapHash("dummy")
	return f
}

// try authenticates and reports whether it succeeded; other errors fail.
func (f *lockoutFixture) try(t *testing.T, login, password string, src netip.Addr) bool {
	t.Helper()
	_, err := f.auth.AuthenticateFrom(context.Background(), login, password, src)
	if err != nil && !errors.Is(err, ErrBadLogin) {
		t.Fatalf("%s: %v", login, err)
	}
	return err == nil
}

var lockoutBackends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")) }},
	{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
}

// issue 7: 20 wrong passwords within 15 minutes lock the account for 15
// minutes from the source they came from; meanwhile the right password is
// refused from there too (even one the cache remembers), without an
// argon2id run (issue 16: a locked source costs no hashing); other sources
// and other accounts are untouched, and the lock and its end are logged
// without a password.
func TestLockoutLocksLoginUntilItEnds(t *testing.T) {
	for _, b := range lockoutBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newLockoutFixture(t, b.url(t), LockoutPolicy{})
			if !f.try(t, "alice", "alice-right", srcA) {
				t.Fatal("right password refused before any failure")
			}
			for i := range 19 {
				if f.try(t, "alice", "guess-"+string(rune('a'+i)), srcA) {
					t.Fatal("a wrong password was accepted")
				}
				f.clock.Advance(10 * time.Second)
			}
			if !f.try(t, "alice", "alice-right", srcA) {
				t.Fatal("19 failures locked the account; the threshold is 20")
			}
			if strings.Contains(f.log.String(), "login locked") {
				t.Fatal("logged a lock before the 20th failure")
			}
			f.try(t, "alice", "guess-20", srcA)
			if !strings.Contains(f.log.String(), "login locked") || !strings.Contains(f.log.String(), "login=alice") {
				t.Fatalf("the lock was not logged:\n%s", f.log)
			}
			lockedAt := f.clock.Now()
			runs := f.auth.Verifications()
			for range 3 {
				if f.try(t, "alice", "alice-right", srcA) {
					t.Fatal("the locked source got in with the right password")
				}
			}
			if got := f.auth.Verifications() - runs; got != 0 {
				t.Fatalf("3 refused attempts from a locked source ran argon2id %d times, want 0", got)
			}
			if !f.try(t, "alice", "alice-right", srcB) {
				t.Fatal("another source was locked out by srcA's failures")
			}
			if !f.try(t, "bob", "bob-right", srcA) {
				t.Fatal("another account from the same source was refused")
			}
			// Refused attempts while locked do not prolong the lock.
			f.clock.Set(lockedAt.Add(DefaultLockoutPolicy.Duration - time.Second))
			if f.try(t, "alice", "alice-right", srcA) {
				t.Fatal("the lock ended early")
			}
			if strings.Contains(f.log.String(), "login lock ended") {
				t.Fatal("logged the end before it")
			}
			f.clock.Set(lockedAt.Add(DefaultLockoutPolicy.Duration))
			if !f.try(t, "alice", "alice-right", srcA) {
				t.Fatal("the right password is refused after the lock ended")
			}
			if n := strings.Count(f.log.String(), "login lock ended"); n != 1 {
				t.Fatalf("the end was logged %d times, want once:\n%s", n, f.log)
			}
			for _, secret := range []string{"alice-right", "bob-right", "guess-"} {
				if strings.Contains(f.log.String(), secret) {
					t.Fatalf("the log holds a password (%s):\n%s", secret, f.log)
				}
			}
		})
	}
}

// issue 7: failures from one source address across many login names lock
// the source (at the higher threshold) for every login, and not other
// sources; IPv6 sources are counted per /64.
func TestLockoutLocksSource(t *testing.T) {
	f := newLockoutFixture(t, store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")), LockoutPolicy{SourceFailures: 30})
	v6a, v6b := netip.MustParseAddr("2001:db8:1:2::a"), netip.MustParseAddr("2001:db8:1:2:ffff::b")
	for i := range 30 {
		// Spread over names, so that no login name reaches its own 20.
		f.try(t, "user"+string(rune('a'+i%3)), "x", v6a)
	}
	if f.try(t, "alice", "alice-right", v6b) {
		t.Fatal("another address of the same /64 got in: the source is not locked")
	}
	if !f.try(t, "alice", "alice-right", srcB) {
		t.Fatal("another source was refused")
	}
	if !strings.Contains(f.log.String(), "source=2001:db8:1:2::/64") {
		t.Fatalf("the source lock was not logged with its /64:\n%s", f.log)
	}
	f.clock.Advance(DefaultLockoutPolicy.Duration)
	if !f.try(t, "alice", "alice-right", v6b) {
		t.Fatal("still refused after the lock ended")
	}
}

// issue 7: an unknown login is counted and locked like a known one, costs
// one argon2id run like a known one until locked and none after, and its
// name never reaches the log.
func TestLockoutUnknownLoginsLookAlike(t *testing.T) {
	f := newLockoutFixture(t, store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")), LockoutPolicy{LoginFailures: 3})
	runs := f.auth.Verifications()
	for range 5 {
		f.try(t, "Tr0ub4dor&3-typed-as-login", "x", srcA)
		f.try(t, "bob", "x", srcB)
	}
	if got := f.auth.Verifications() - runs; got != 6 {
		t.Fatalf("10 failed attempts, 4 of them locked, ran argon2id %d times, want 6", got)
	}
	log := f.log.String()
	if strings.Count(log, "login locked") != 2 || !strings.Contains(log, "login=bob") || !strings.Contains(log, `login="(not an account)"`) {
		t.Fatalf("want one lock for bob and one for the unknown name:\n%s", log)
	}
	if strings.Contains(log, "Tr0ub4dor") {
		t.Fatalf("an unknown login name reached the log:\n%s", log)
	}
	var stored int
	if err := f.st.QueryRow(context.Background(), `SELECT COUNT(*) FROM login_failures WHERE subject LIKE '%Tr0ub4dor%' OR label LIKE '%Tr0ub4dor%'`, &stored); err != nil || stored != 0 {
		t.Fatalf("an unknown login name was stored: %d %v", stored, err)
	}
}

// issue 7: a lock set on one node holds on another: two Authenticators on
// one database stand for two nodes.
func TestLockoutHoldsAcrossNodes(t *testing.T) {
	for _, b := range lockoutBackends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			one := newLockoutFixture(t, url, LockoutPolicy{LoginFailures: 4})
			lo, err := NewLockout(context.Background(), one.st, LockoutPolicy{LoginFailures: 4}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			two := NewAuthenticator(one.st, WithClock(one.clock), WithLockout(lo))
			two.dummy = one.auth.dummy
			for i := range 4 {
				a := one.auth
				if i%2 == 1 {
					a = two
				}
				a.AuthenticateFrom(context.Background(), "alice", "wrong", srcA)
			}
			for _, a := range []*Authenticator{one.auth, two} {
				if _, err := a.AuthenticateFrom(context.Background(), "alice", "alice-right", srcA); !errors.Is(err, ErrBadLogin) {
					t.Fatalf("a node let the locked account in: %v", err)
				}
			}
		})
	}
}

// issue 16: guesses from many sources reach the global per-login lock,
// which refuses every source the account has not logged in from within
// KnownSourceAge; a known source keeps access, and stops being known once
// its last success is older than that.
func TestGlobalLockSparesKnownSources(t *testing.T) {
	for _, b := range lockoutBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newLockoutFixture(t, b.url(t), LockoutPolicy{LoginFailures: 3, GlobalLoginFailures: 10, KnownSourceAge: 48 * time.Hour})
			home := netip.MustParseAddr("203.0.113.10")
			if !f.try(t, "alice", "alice-right", home) {
				t.Fatal("first login refused")
			}
			for i := range 10 {
				// Two guesses per source: no source reaches its own 3.
				f.try(t, "alice", "wrong", netip.AddrFrom4([4]byte{198, 51, 100, byte(i / 2)}))
			}
			if f.try(t, "alice", "alice-right", srcB) {
				t.Fatal("a stranger's source got in past the global lock")
			}
			if !f.try(t, "alice", "alice-right", home) {
				t.Fatal("the known source was refused by the global lock")
			}
			if !strings.Contains(f.log.String(), `kind="login from every unknown source"`) {
				t.Fatalf("the global lock was not logged:\n%s", f.log)
			}
			// A source known 2 days ago is a stranger again.
			f.clock.Advance(48 * time.Hour)
			for i := range 10 {
				f.try(t, "alice", "wrong", netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i/2)}))
			}
			if f.try(t, "alice", "alice-right", home) {
				t.Fatal("a source last known 48 hours ago still passed the global lock")
			}
		})
	}
}
