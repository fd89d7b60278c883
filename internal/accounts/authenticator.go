package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/store"
)

// ErrBadLogin is every authentication failure: unknown login, wrong
// password, disabled account. Callers answer them all alike.
var ErrBadLogin = errors.New("accounts: bad login")

// Lookup finds an account by login; store.Store satisfies it.
type Lookup interface {
	AccountByLogin(ctx context.Context, login string) (store.Account, error)
}

// CacheTTL is how long a successful verification is remembered. A password
// change needs no wait: the cache key includes the stored hash, so a new
// hash misses at once on every node.
const CacheTTL = 10 * time.Minute

// cacheMax bounds the cache; when full it is emptied (a verification costs
// only one argon2id run again).
const cacheMax = 100_000

// Authenticator checks loginName/loginPassword pairs.
type Authenticator struct {
	accounts Lookup
	clock    clock.Clock
	key      []byte // per-process key of the cache's keyed hash
	useCache bool
	dummy    string        // hash verified for unknown logins, to spend the same time
	slots    chan struct{} // bounds concurrent argon2id runs (19 MiB each)

	mu    sync.Mutex
	cache map[[32]byte]time.Time

	verifications atomic.Int64 // argon2id runs, for metrics and tests
}

// Verifications is how many argon2id verifications have run.
func (a *Authenticator) Verifications() int64 { return a.verifications.Load() }

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithoutCache verifies argon2id on every call (for benchmarks).
func WithoutCache() Option { return func(a *Authenticator) { a.useCache = false } }

// WithClock sets the clock for cache lifetimes.
func WithClock(c clock.Clock) Option { return func(a *Authenticator) { a.clock = c } }

// NewAuthenticator returns an Authenticator over accounts.
func NewAuthenticator(accounts Lookup, opts ...Option) *Authenticator {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("accounts: no randomness: " + err.Error())
	}
	dummy, err := HashPassword("dcvmail timing equalizer", rand.Reader)
	if err != nil {
		panic("accounts: " + err.Error())
	}
	a := &Authenticator{
		accounts: accounts,
		clock:    clock.System,
		key:      key,
		useCache: true,
		dummy:    dummy,
		slots:    make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		cache:    map[[32]byte]time.Time{},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// cacheKey is a keyed hash of the login, the password and the stored hash:
// the password itself is never kept, and a changed hash never hits.
func (a *Authenticator) cacheKey(acct store.Account, password string) [32]byte {
	m := hmac.New(sha256.New, a.key)
	for _, s := range []string{acct.Login, password, acct.PasswordHash} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// Authenticate returns the account for a login and password, or
// ErrBadLogin. Other errors are internal failures (the database).
func (a *Authenticator) Authenticate(ctx context.Context, login, password string) (store.Account, error) {
	acct, err := a.accounts.AccountByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		// Spend what a known login costs, so logins cannot be probed by time.
		a.verify(ctx, a.dummy, password)
		return store.Account{}, ErrBadLogin
	}
	if err != nil {
		return store.Account{}, err
	}
	if acct.Disabled {
		return store.Account{}, ErrBadLogin
	}
	now := a.clock.Now()
	var key [32]byte
	if a.useCache {
		key = a.cacheKey(acct, password)
		a.mu.Lock()
		exp, hit := a.cache[key]
		a.mu.Unlock()
		if hit && now.Before(exp) {
			return acct, nil
		}
	}
	ok, err := a.verify(ctx, acct.PasswordHash, password)
	if err != nil {
		return store.Account{}, err
	}
	if !ok {
		return store.Account{}, ErrBadLogin
	}
	if a.useCache {
		a.mu.Lock()
		if len(a.cache) >= cacheMax {
			clear(a.cache)
		}
		a.cache[key] = now.Add(CacheTTL)
		a.mu.Unlock()
	}
	return acct, nil
}

func (a *Authenticator) verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.slots }()
	a.verifications.Add(1)
	return VerifyPassword(hash, password)
}
