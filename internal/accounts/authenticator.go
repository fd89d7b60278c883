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

	"golang.org/x/sync/singleflight"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/fairslots"
	"github.com/dcvmail/dcvmail/internal/model"
)

// ErrBusy refuses a login attempt without judging it: its source already
// has as many verifications waiting as one source may (fairslots). Callers
// answer "try again later", never "bad login": the password was not
// checked, and the attempt is not counted as a failure.
var ErrBusy = errors.New("accounts: too many logins in progress from this source")

// queuePerSlot is how many attempts one source may have waiting per
// verification slot: with 2 slots, 64: an integrator's burst of concurrent
// first calls (40 in TestRule7ConcurrentResendsKeepTheLimit) is still
// checked, while a flood queues at most 64 argon2id runs (two seconds of
// one core).
const queuePerSlot = 32

// newVerifySlots are n slots for argon2id runs (19 MiB each), fair across
// sources.
func newVerifySlots(n int) *fairslots.Slots { return fairslots.New(n, queuePerSlot*n) }

// ErrBadLogin is every authentication failure: unknown login, wrong
// password, disabled account. Callers answer them all alike.
var ErrBadLogin = errors.New("accounts: bad login")

// Lookup finds an account by login; store.Store satisfies it.
type Lookup interface {
	AccountByLogin(ctx context.Context, login string) (model.Account, error)
}

// CacheTTL is how long a successful verification is remembered after the
// last attempt that used it: an account in steady use is never verified
// again, so its calls never queue behind a fresh argon2id run all at once
// (BENCHMARKS.md, "Thirteenth round"). A password change needs no wait: the
// cache key includes the stored hash, so a new hash misses at once on every
// node; a disabled account is refused before the cache is asked.
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
	dummy    string           // hash verified for unknown logins, to spend the same time
	slots    *fairslots.Slots // bounds concurrent argon2id runs (19 MiB each), fair across sources
	lockout  *Lockout         // nil: failed logins are not counted

	mu    sync.Mutex
	cache map[[32]byte]time.Time
	// flight runs one verification for concurrent attempts with the same
	// cache key (login, password, stored hash): they share its answer.
	flight singleflight.Group

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
func (a *Authenticator) Slots() int { return a.slots.Size() }

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
		slots:     newVerifySlots(max(2, runtime.GOMAXPROCS(0))),
		busyPause: BusyPause,
		refusals:  newRefusalPacer(),
		cache:     map[[32]byte]time.Time{},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// cacheKey is a keyed hash of the login, the password and the stored hash
// (the dummy hash for an unknown login): the password itself is never
// kept, and a changed hash never hits.
func (a *Authenticator) cacheKey(login, password, hash string) [32]byte {
	m := hmac.New(sha256.New, a.key)
	for _, s := range []string{login, password, hash} {
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
// as one source may (fairslots) gets ErrBusy after BusyPause, unjudged and
// uncounted, before any database read.
//
// Every other attempt that is not a cache hit costs one argon2id run,
// shared by the attempts made at once with the same login and password
// (verifyOnce): an unknown login verifies a dummy hash, a disabled account
// its own, so that the existence of a login does not show in the time of
// the answer.
func (a *Authenticator) AuthenticateFrom(ctx context.Context, login, password string, source netip.Addr) (model.Account, error) {
	now := a.clock.Now()
	src, _ := SourceOf(source)
	if a.slots.Full(src) {
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
	hash := a.dummy // spend what a known login costs, so logins cannot be probed by time
	if known {
		hash = acct.PasswordHash
	}
	var (
		ok  bool
		err error
	)
	if a.useCache {
		key := a.cacheKey(login, password, hash)
		if usable && a.cached(key, now) {
			return a.succeeded(ctx, acct, at, now)
		}
		ok, err = a.verifyOnce(ctx, key, src, hash, password, usable, now)
	} else {
		ok, err = a.verify(ctx, src, hash, password)
	}
	if err != nil {
		return model.Account{}, err
	}
	if usable && ok {
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

// cached tells whether key holds a verification still fresh at now, and
// if so keeps it fresh for another CacheTTL.
func (a *Authenticator) cached(key [32]byte, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, hit := a.cache[key]
	if !hit || !now.Before(exp) {
		return false
	}
	a.cache[key] = now.Add(CacheTTL)
	return true
}

// verifyOnce verifies password against hash, one argon2id run for all the
// attempts that ask at once with the same key: when an account's entry is
// missing (a start, a password change, an entry unused for CacheTTL) its
// concurrent calls would otherwise each queue a run of their own, and
// beyond what one source may have waiting be refused as busy. Attempts on
// unknown logins and with wrong passwords share alike, so that sharing
// does not tell a login that exists from one that does not. The run
// remembers a right password of a usable account before it ends, so that
// an attempt arriving after it finds the entry; each attempt is still
// judged and counted on its own.
//
// The run waits for its slot under the context of the attempt that started
// it, so that a flood of attempts whose clients left runs nothing. When
// that client leaves, the attempts still waiting start another run.
func (a *Authenticator) verifyOnce(ctx context.Context, key [32]byte, source, hash, password string, usable bool, now time.Time) (bool, error) {
	run := func() (any, error) {
		if usable && a.cached(key, now) {
			return true, nil // remembered by a run that ended meanwhile
		}
		ok, err := a.verify(ctx, source, hash, password)
		if err == nil && ok && usable {
			a.mu.Lock()
			if len(a.cache) >= cacheMax {
				clear(a.cache)
			}
			a.cache[key] = now.Add(CacheTTL)
			a.mu.Unlock()
		}
		return ok, err
	}
	for {
		select {
		case r := <-a.flight.DoChan(string(key[:]), run):
			if r.Err != nil && ctx.Err() == nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
				continue // the attempt that ran it left: run it again
			}
			if r.Err != nil {
				return false, r.Err
			}
			return r.Val.(bool), nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (a *Authenticator) verify(ctx context.Context, source, hash, password string) (bool, error) {
	a.waiting.Add(1)
	err := a.slots.Acquire(ctx, source)
	a.waiting.Add(-1)
	if errors.Is(err, fairslots.ErrBusy) {
		return false, a.refuseBusy(ctx)
	}
	if err != nil {
		return false, err
	}
	defer a.slots.Release(source)
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
