package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/model"
)

func TestHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with the documented parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	h2, _ := HashPassword("correct horse", rand.Reader)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false} {
		if ok, err := VerifyPassword(h, pw); err != nil || ok != want {
			t.Errorf("verify %q: %v %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "plain"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// fakeAccounts counts lookups and serves one account.
type fakeAccounts struct {
	acct    model.Account
	lookups atomic.Int64
}

func (f *fakeAccounts) AccountByLogin(_ context.Context, login string) (model.Account, error) {
	f.lookups.Add(1)
	if login != f.acct.Login {
		return model.Account{}, model.ErrNotFound
	}
	return f.acct, nil
}

// alice is the one account alice, whose password is password.
func alice(password string) *fakeAccounts {
	h, _ := HashPassword(password, rand.Reader)
	return &fakeAccounts{acct: model.Account{ID: 1, Login: "alice", PasswordHash: h}}
}

func TestCacheAvoidsArgonAndNeverOutlivesAPasswordChange(t *testing.T) {
	f := alice("old-pass")
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := NewAuthenticator(f, WithClock(fake))
	ctx := context.Background()

	if _, err := a.Authenticate(ctx, "alice", "old-pass"); err != nil {
		t.Fatal(err)
	}
	runs := a.Verifications()
	for range 100 {
		if _, err := a.Authenticate(ctx, "alice", "old-pass"); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Verifications() - runs; got != 0 {
		t.Fatalf("100 cache hits ran argon2id %d times", got)
	}
	if len(a.cache) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(a.cache))
	}
	// The cache never holds the password itself.
	for k := range a.cache {
		if strings.Contains(string(k[:]), "old-pass") {
			t.Fatal("password in the cache key")
		}
	}
	// Wrong passwords are never cached as good.
	if _, err := a.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	// The password changes: the old one is refused at once.
	f.acct.PasswordHash, _ = HashPassword("new-pass", rand.Reader)
	if _, err := a.Authenticate(ctx, "alice", "old-pass"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := a.Authenticate(ctx, "alice", "new-pass"); err != nil {
		t.Fatal(err)
	}
	// A disabled account is refused even with a cached password.
	f.acct.Disabled = true
	if _, err := a.Authenticate(ctx, "alice", "new-pass"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("disabled account: %v", err)
	}
	f.acct.Disabled = false
	// Entries expire.
	fake.Advance(CacheTTL + time.Second)
	before := len(a.cache)
	if _, err := a.Authenticate(ctx, "alice", "new-pass"); err != nil {
		t.Fatal(err)
	}
	if len(a.cache) != before {
		t.Fatalf("expired entry not replaced: %d -> %d", before, len(a.cache))
	}
	// An unknown login still spends one argon2id run, so logins cannot be
	// probed by timing.
	runs = a.Verifications()
	if _, err := a.Authenticate(ctx, "nobody", "x"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown login: %v", err)
	}
	if a.Verifications() != runs+1 {
		t.Fatal("unknown login skipped the argon2id run")
	}
}

// An account in steady use is never verified again: each hit keeps its
// entry for another CacheTTL, and only an entry unused for CacheTTL is
// verified anew.
func TestCacheEntryLastsWhileUsed(t *testing.T) {
	f := alice("pw")
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := NewAuthenticator(f, WithClock(fake))
	ctx := context.Background()
	login := func() {
		t.Helper()
		if _, err := a.Authenticate(ctx, "alice", "pw"); err != nil {
			t.Fatal(err)
		}
	}
	login()
	for range 5 { // 45 minutes, a call every 9
		fake.Advance(CacheTTL - time.Minute)
		login()
	}
	if n := a.Verifications(); n != 1 {
		t.Fatalf("an account used every %v was verified %d times in %v, want once", CacheTTL-time.Minute, n, 5*(CacheTTL-time.Minute))
	}
	fake.Advance(CacheTTL)
	login()
	if n := a.Verifications(); n != 2 {
		t.Fatalf("an entry unused for %v was not verified again (%d runs)", CacheTTL, n)
	}
}

// Attempts made at once with the same login and password share one
// argon2id run: 200 calls of one account on a cold cache, all from one
// source, are all answered, by one run, where each used to queue a run of
// its own and those past what one source may have waiting were refused
// busy (the bench's resend at half load, every ten minutes). Wrong
// passwords, on an account and on a name that is none, share alike and
// are never refused busy either.
func TestConcurrentAttemptsShareOneVerification(t *testing.T) {
	f := alice("pw")
	a := NewAuthenticator(f)
	a.busyPause = 0
	src := netip.MustParseAddr("192.0.2.7")
	const n = 200
	attempt := func(login, password string) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = a.AuthenticateFrom(context.Background(), login, password, src) })
		}
		wg.Wait()
		return errs
	}
	for i, err := range attempt("alice", "pw") {
		if err != nil {
			t.Fatalf("attempt %d of %d at once with the right password: %v", i, n, err)
		}
	}
	if runs := a.Verifications(); runs != 1 {
		t.Fatalf("%d attempts at once with one password ran argon2id %d times, want 1", n, runs)
	}
	for _, login := range []string{"alice", "nobody"} {
		runs := a.Verifications()
		for i, err := range attempt(login, "wrong") {
			if !errors.Is(err, ErrBadLogin) {
				t.Fatalf("%s, attempt %d of %d at once with a wrong password: %v, want a bad login", login, i, n, err)
			}
		}
		if got := a.Verifications() - runs; got < 1 || got > n/2 {
			t.Errorf("%s: %d wrong attempts at once ran argon2id %d times: not shared", login, n, got)
		}
	}
	if b := a.Busy(); b != 0 {
		t.Fatalf("%d attempts refused busy", b)
	}
}

// The shared run waits for its slot under the context of the attempt that
// started it: when that client leaves, the run is given up, and the
// attempts still waiting start it again rather than fail.
func TestSharedVerificationOutlivesTheClientThatStartedIt(t *testing.T) {
	f := alice("pw")
	a := NewAuthenticator(f)
	a.slots = newVerifySlots(1)
	src := netip.MustParseAddr("192.0.2.7")
	held, _ := SourceOf(netip.MustParseAddr("192.0.2.99"))
	if err := a.slots.Acquire(context.Background(), held); err != nil { // every run must wait
		t.Fatal(err)
	}
	first, leave := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := a.AuthenticateFrom(first, "alice", "pw", src)
		firstErr <- err
	}()
	waitWaiting(t, a.slots, 1)
	const others = 5
	errs := make(chan error, others)
	for range others {
		go func() {
			_, err := a.AuthenticateFrom(context.Background(), "alice", "pw", src)
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // the others join the first's run
	leave()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the attempt whose client left: %v, want context.Canceled", err)
	}
	waitWaiting(t, a.slots, 1) // the others' run, started again
	a.slots.Release(held)
	for range others {
		if err := <-errs; err != nil {
			t.Fatalf("an attempt still waiting when the first left: %v", err)
		}
	}
	if n := a.Verifications(); n != 1 {
		t.Fatalf("argon2id ran %d times, want once", n)
	}
}

func TestWithoutCacheKeepsNothing(t *testing.T) {
	f := alice("pw")
	a := NewAuthenticator(f, WithoutCache())
	for range 2 {
		if _, err := a.Authenticate(context.Background(), "alice", "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.cache) != 0 {
		t.Fatal("WithoutCache cached")
	}
}

func BenchmarkAuthenticateCacheHit(b *testing.B) {
	f := alice("pw")
	a := NewAuthenticator(f)
	ctx := context.Background()
	a.Authenticate(ctx, "alice", "pw")
	for b.Loop() {
		if _, err := a.Authenticate(ctx, "alice", "pw"); err != nil {
			b.Fatal(err)
		}
	}
}
