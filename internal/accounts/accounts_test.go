package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
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

func TestCacheAvoidsArgonAndNeverOutlivesAPasswordChange(t *testing.T) {
	h, _ := HashPassword("old-pass", rand.Reader)
	f := &fakeAccounts{acct: model.Account{ID: 1, Login: "alice", PasswordHash: h}}
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

func TestWithoutCacheKeepsNothing(t *testing.T) {
	h, _ := HashPassword("pw", rand.Reader)
	f := &fakeAccounts{acct: model.Account{ID: 1, Login: "alice", PasswordHash: h}}
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
	h, _ := HashPassword("pw", rand.Reader)
	f := &fakeAccounts{acct: model.Account{ID: 1, Login: "alice", PasswordHash: h}}
	a := NewAuthenticator(f)
	ctx := context.Background()
	a.Authenticate(ctx, "alice", "pw")
	for b.Loop() {
		if _, err := a.Authenticate(ctx, "alice", "pw"); err != nil {
			b.Fatal(err)
		}
	}
}
