package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/model"
)

// ErrBadLogin is every authentication failure: unknown login, wrong
// password, disabled account. Callers answer them all alike.
var ErrBadLogin = errors.New("accounts: bad login")

// Lookup finds an account by login; store.Store satisfies it.
type Lookup interface {
	AccountByLogin(ctx context.Context, login string) (model.Account, error)
}

// CacheTTL is how long a successful verification is remembered. A password
// change needs no wait: the cache key includes the stored hash, so a new
// hash misses at once on every node.
const CacheTTL = 10 * time.Minute

// cacheMax bounds the cache; when full it is emptied (a verification costs
// only one argon2id run again).
const cacheMax = 100_000

// BusyPause is how long an attempt refused with ErrBusy is held before its
// answer: a flooding connection then asks about once a second instead of
// as fast as refusals can be answered, which would take the CPU that
// argon2id runs need. Held attempts cost a goroutine, no CPU.
const BusyPause = time.Second

// Authenticator checks loginName/loginPassword pairs.
type Authenticator struct {
	accounts Lookup
	clock    clock.Clock
	key      []byte // per-process key of the cache's keyed hash
	useCache bool
	dummy    string     // hash verified for unknown logins, to spend the same time
	slots    *fairSlots // bounds concurrent argon2id runs (19 MiB each), fair across sources
	lockout  *Lockout   // nil: failed logins are not counted

	mu    sync.Mutex
	cache map[[32]byte]time.Time

	busyPause time.Duration // how long an attempt refused with ErrBusy is held
	refusals  *refusalPacer // holds a locked source's refusals beyond a burst

	verifications atomic.Int64 // argon2id runs, for metrics and tests
	busy          atomic.Int64 // attempts refused with ErrBusy
	waiting       atomic.Int64 // verifications waiting for a slot
}

// Verifications is how many argon2id verifications have run.
func (a *Authenticator) Verifications() int64 { return a.verifications.Load() }

// Busy is how many attempts were refused with ErrBusy.
func (a *Authenticator) Busy() int64 { return a.busy.Load() }

// Waiting is how many verifications wait for one of the Slots: they hold
// no argon2id memory yet.
func (a *Authenticator) Waiting() int64 { return a.waiting.Load() }

// Slots is how many argon2id verifications may run at once; each holds
// 19 MiB while it runs.
func (a *Authenticator) Slots() int { return a.slots.size }

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithoutCache verifies argon2id on every call (for benchmarks).
func WithoutCache() Option { return func(a *Authenticator) { a.useCache = false } }

// WithClock sets the clock for cache lifetimes and lockout windows.
func WithClock(c clock.Clock) Option { return func(a *Authenticator) { a.clock = c } }

// WithLockout counts failed logins and refuses locked login names and
// source addresses.
func WithLockout(l *Lockout) Option { return func(a *Authenticator) { a.lockout = l } }

// NewAuthenticator returns an Authenticator over accounts.
func NewAuthenticator(accounts Lookup, opts ...Option) *Authenticator {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("accounts: no randomness: " + err.Error())
	}
	a := &Authenticator{
		accounts:  accounts,
		clock:     clock.System,
		key:       key,
		useCache:  true,
		dummy:     dummyHash(),
		slots:     newFairSlots(max(2, runtime.GOMAXPROCS(0))),
		busyPause: BusyPause,
		refusals:  newRefusalPacer(),
		cache:     map[[32]byte]time.Time{},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// cacheKey is a keyed hash of the login, the password and the stored hash:
// the password itself is never kept, and a changed hash never hits.
func (a *Authenticator) cacheKey(acct model.Account, password string) [32]byte {
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
// ErrBadLogin. Other errors are internal failures (the database). It is
// AuthenticateFrom without a source address: only the login name's
// failures are counted.
func (a *Authenticator) Authenticate(ctx context.Context, login, password string) (model.Account, error) {
	return a.AuthenticateFrom(ctx, login, password, netip.Addr{})
}

// AuthenticateFrom is Authenticate for a request from source (the zero
// Addr when unknown). With a Lockout, a failure counts against the login
// name (from anywhere, and from source) and the source, and while a lock
// that applies to the attempt holds, every attempt fails, even with the
// right password, without an argon2id run: a locked source costs one read,
// and beyond a burst its refusals are paced (RefusalRate, RefusalHold), so
// a flood from it cannot slow anyone else's login.
//
// An attempt from a source that already has as many verifications waiting
// as one source may (fairSlots) gets ErrBusy after BusyPause, unjudged and
// uncounted, before any database read.
//
// Every other attempt that is not a cache hit costs exactly one argon2id
// run: an unknown login verifies a dummy hash, a disabled account its own,
// so that the existence of a login does not show in the time of the
// answer.
func (a *Authenticator) AuthenticateFrom(ctx context.Context, login, password string, source netip.Addr) (model.Account, error) {
	now := a.clock.Now()
	src, _ := SourceOf(source)
	if a.slots.full(src) {
		return model.Account{}, a.refuseBusy(ctx) // before any database read
	}
	var (
		acct  model.Account
		known bool
		at    attempt
	)
	if a.lockout == nil {
		var err error
		acct, err = a.accounts.AccountByLogin(ctx, login)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return model.Account{}, err
		}
		known = err == nil
	} else {
		var err error
		if at, err = a.lockout.check(ctx, login, source, now); err != nil {
			return model.Account{}, err
		}
		// A locked attempt is refused before any hashing, and not
		// counted: the lock ends when it was set to, however many
		// attempts it refused.
		if at.locked {
			a.lockout.observer.Refused()
			a.refusals.wait(ctx, src)
			return model.Account{}, ErrBadLogin
		}
		acct, known = at.state.Account, at.state.Known
	}
	usable := known && !acct.Disabled
	var key [32]byte
	if usable && a.useCache {
		key = a.cacheKey(acct, password)
		a.mu.Lock()
		exp, hit := a.cache[key]
		a.mu.Unlock()
		if hit && now.Before(exp) {
			return a.succeeded(ctx, acct, at, now)
		}
	}
	hash := a.dummy // spend what a known login costs, so logins cannot be probed by time
	if known {
		hash = acct.PasswordHash
	}
	ok, err := a.verify(ctx, src, hash, password)
	if err != nil {
		return model.Account{}, err
	}
	if usable && ok {
		if a.useCache {
			a.mu.Lock()
			if len(a.cache) >= cacheMax {
				clear(a.cache)
			}
			a.cache[key] = now.Add(CacheTTL)
			a.mu.Unlock()
		}
		return a.succeeded(ctx, acct, at, now)
	}
	if a.lockout != nil {
		if err := a.lockout.fail(ctx, at.subjects, now); err != nil {
			return model.Account{}, err
		}
	}
	return model.Account{}, ErrBadLogin
}

// succeeded returns acct after a successful login, with the lockout told
// of its source.
func (a *Authenticator) succeeded(ctx context.Context, acct model.Account, at attempt, now time.Time) (model.Account, error) {
	if a.lockout != nil {
		if err := a.lockout.succeeded(ctx, at, now); err != nil {
			return model.Account{}, err
		}
	}
	return acct, nil
}

func (a *Authenticator) verify(ctx context.Context, source, hash, password string) (bool, error) {
	a.waiting.Add(1)
	err := a.slots.acquire(ctx, source)
	a.waiting.Add(-1)
	if errors.Is(err, ErrBusy) {
		return false, a.refuseBusy(ctx)
	}
	if err != nil {
		return false, err
	}
	defer a.slots.release(source)
	a.verifications.Add(1)
	return VerifyPassword(hash, password)
}

// refuseBusy holds an attempt refused because its source has as many
// verifications waiting as one may, for busyPause or until its client
// leaves, and returns ErrBusy.
func (a *Authenticator) refuseBusy(ctx context.Context) error {
	a.busy.Add(1)
	t := time.NewTimer(a.busyPause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ErrBusy
}
