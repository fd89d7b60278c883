package accounts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/origin"
)

// LockoutPolicy says how many failed logins lock what, and for how long.
// Failures are counted in a fixed window that starts at a subject's first
// failure; reaching a threshold within it locks the subject for Duration
// and starts its count afresh. While locked, every login the lock applies
// to is refused with the one answer of a bad login, whatever the password.
//
// Locks apply to the sources that failed, not to everyone (issue 16): a
// stranger who knows a login name locks it only for its own source, and a
// source from which the account logged in successfully within
// KnownSourceAge keeps access through the source and global locks.
type LockoutPolicy struct {
	// LoginFailures locks a login name (an account, or a name that is
	// none: both are counted alike) for the one source it failed from.
	LoginFailures int
	// SourceFailures locks a source address (IPv4, or an IPv6 /64) for
	// every login that has not logged in from it within KnownSourceAge.
	// Higher than LoginFailures: many people may share one address.
	SourceFailures int
	// GlobalLoginFailures locks a login name, from every source, for
	// sources it has not logged in from within KnownSourceAge: the last
	// line against guessing from many sources.
	GlobalLoginFailures int
	// KnownSourceAge is how long a successful login keeps its source
	// known to the account.
	KnownSourceAge time.Duration
	Window         time.Duration
	Duration       time.Duration
}

// DefaultLockoutPolicy: 20 failures of one login name from one source, 100
// from one source, or 500 of one login name from anywhere within 15
// minutes lock for 15 minutes; a successful login keeps its source known
// for 30 days.
var DefaultLockoutPolicy = LockoutPolicy{
	LoginFailures:       20,
	SourceFailures:      100,
	GlobalLoginFailures: 500,
	KnownSourceAge:      30 * 24 * time.Hour,
	Window:              15 * time.Minute,
	Duration:            15 * time.Minute,
}

// withDefaults fills in zero fields from DefaultLockoutPolicy.
func (p LockoutPolicy) withDefaults() LockoutPolicy {
	d := DefaultLockoutPolicy
	if p.LoginFailures <= 0 {
		p.LoginFailures = d.LoginFailures
	}
	if p.SourceFailures <= 0 {
		p.SourceFailures = d.SourceFailures
	}
	if p.GlobalLoginFailures <= 0 {
		p.GlobalLoginFailures = d.GlobalLoginFailures
	}
	if p.KnownSourceAge <= 0 {
		p.KnownSourceAge = d.KnownSourceAge
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.Duration <= 0 {
		p.Duration = d.Duration
	}
	return p
}

// FailureStore keeps the counts of failed logins where every node sees
// them; *store.Store satisfies it.
type FailureStore interface {
	EnsureSetting(ctx context.Context, name, value string) (string, error)
	LoginStateOf(ctx context.Context, login, source string, subjects ...string) (model.LoginState, error)
	RecordLoginSource(ctx context.Context, accountID int64, source string, at time.Time) error
	PruneLoginSources(ctx context.Context, expired time.Time) (int64, error)
	CountLoginFailures(ctx context.Context, subjects []model.LoginSubject, now, expired time.Time) ([]model.LoginFailures, error)
	LockLogin(ctx context.Context, subject string, threshold int, now, until time.Time) (bool, error)
	EndLoginLocks(ctx context.Context, now time.Time) ([]model.LoginFailures, error)
	PruneLoginFailures(ctx context.Context, expired time.Time) (int64, error)
}

// loginKeySetting names the stored HMAC key under which login names are
// counted. It lives in the database so that every node counts alike.
const loginKeySetting = "login_failure_hmac_key"

// Subject prefixes in the store: a login name from anywhere, a login name
// from one source, a source.
const (
	loginPrefix  = "login:"
	pairPrefix   = "pair:"
	sourcePrefix = "source:"
)

// knownRefresh is how stale a known source's time may get before a
// successful login writes it again: at most one write per account and
// source a day.
const knownRefresh = 24 * time.Hour

// housekeeping is how often a node looks for ended locks to log and for
// old counts to prune, at most.
const housekeeping = time.Minute

// Lockout counts failed logins per login name and per source address in
// the database, so that a lock set on one node holds on every node. It logs
// each lock when it is set and its end once it has passed, never a
// password.
type Lockout struct {
	store  FailureStore
	policy LockoutPolicy
	key    []byte
	log    *slog.Logger

	observer LockoutObserver // observe.go

	lastSweep       atomic.Int64 // Unix ms of this node's last look for ended locks
	lastPrune       atomic.Int64 // Unix ms of this node's last pruning
	lastSourcePrune atomic.Int64 // Unix ms of this node's last pruning of known sources
}

// NewLockout reads (or, the first time, creates) the key under which login
// names are counted. Zero fields of policy take DefaultLockoutPolicy's.
func NewLockout(ctx context.Context, st FailureStore, policy LockoutPolicy, log *slog.Logger) (*Lockout, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("accounts: lockout key: %w", err)
	}
	stored, err := st.EnsureSetting(ctx, loginKeySetting, hex.EncodeToString(fresh))
	if err != nil {
		return nil, fmt.Errorf("accounts: lockout key: %w", err)
	}
	key, err := hex.DecodeString(stored)
	if err != nil || len(key) < 16 {
		return nil, errors.New("accounts: stored lockout key is malformed")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Lockout{store: st, policy: policy.withDefaults(), key: key, log: log, observer: noObserver{}}, nil
}

// Policy is the policy in force.
func (l *Lockout) Policy() LockoutPolicy { return l.policy }

// attempt is what Lockout.check found for one login attempt.
type attempt struct {
	state    model.LoginState
	subjects []model.LoginSubject
	source   string // "" when unknown
	known    bool   // the account logged in from source within KnownSourceAge
	locked   bool
}

// check reads, in one statement, the account of login, whether it knows
// the source, and the counts of the subjects the attempt counts against,
// and tells whether a lock that applies to this attempt holds at now. The
// login name's subjects are labelled with the account's login when the
// name is an account's, else "" (an unknown name is never shown).
func (l *Lockout) check(ctx context.Context, login string, source netip.Addr, now time.Time) (attempt, error) {
	src, _ := SourceOf(source)
	subjects := l.subjects(login, src)
	names := make([]string, len(subjects))
	for i, s := range subjects {
		names[i] = s.Subject
	}
	st, err := l.store.LoginStateOf(ctx, login, src, names...)
	if err != nil {
		return attempt{}, fmt.Errorf("accounts: read login state: %w", err)
	}
	if st.Known {
		for i := range subjects {
			if !strings.HasPrefix(subjects[i].Subject, sourcePrefix) {
				subjects[i].Label = st.Account.Login
			}
		}
	}
	at := attempt{state: st, subjects: subjects, source: src}
	at.known = st.Known && src != "" && !st.KnownSince.IsZero() && now.Sub(st.KnownSince) < l.policy.KnownSourceAge
	at.locked = !l.lockedUntil(ctx, st.Failures, at.known, now).IsZero()
	return at, nil
}

// subjects are what a login attempt counts against: its login name, under a
// keyed hash (a password typed into the name field is never stored), from
// anywhere and from its source, and its source, when known. Labels of the
// login name's subjects are left to check.
func (l *Lockout) subjects(login, src string) []model.LoginSubject {
	name := loginSubject(l.key, login)
	subs := []model.LoginSubject{{Subject: name}}
	if src != "" {
		subs = append(subs,
			model.LoginSubject{Subject: pairSubject(name, src)},
			model.LoginSubject{Subject: sourcePrefix + src, Label: src})
	}
	return subs
}

// pairSubject is the subject of a login name's failures from one source.
func pairSubject(loginSubj, src string) string {
	return pairPrefix + strings.TrimPrefix(loginSubj, loginPrefix) + " " + src
}

// succeeded remembers the source of a successful login, so that locks set
// by strangers spare it; at most one write a day per account and source.
func (l *Lockout) succeeded(ctx context.Context, at attempt, now time.Time) error {
	if at.source == "" || now.Sub(at.state.KnownSince) < knownRefresh {
		return nil
	}
	if err := l.store.RecordLoginSource(ctx, at.state.Account.ID, at.source, now); err != nil {
		return fmt.Errorf("accounts: record login source: %w", err)
	}
	if l.due(&l.lastSourcePrune, now) {
		if _, err := l.store.PruneLoginSources(ctx, now.Add(-l.policy.KnownSourceAge)); err != nil {
			l.log.Error("login sources: pruning failed", "err", err)
		}
	}
	return nil
}

// SourceOf is the source a failed login from addr counts against: an IPv4
// address, or the /64 of an IPv6 address (origin.Source). ok is false for
// an invalid addr.
func SourceOf(addr netip.Addr) (string, bool) { return origin.Source(addr) }

// lockedUntil is when the latest lock among the counts of an attempt's
// subjects ends, or the zero time when none that applies is locked at now:
// a source known to the account is spared the source's and the login
// name's global locks, never the lock of the login name from that source.
// A lock seen ended makes this node look for ended locks to log.
func (l *Lockout) lockedUntil(ctx context.Context, counts []model.LoginFailures, known bool, now time.Time) time.Time {
	var until time.Time
	ended := false
	for _, r := range counts {
		switch {
		case r.LockedUntil.IsZero():
		case known && !strings.HasPrefix(r.Subject, pairPrefix) && r.LockedUntil.After(now):
		case r.LockedUntil.After(now):
			if r.LockedUntil.After(until) {
				until = r.LockedUntil
			}
		default:
			ended = true
		}
	}
	if ended || l.due(&l.lastSweep, now) {
		l.sweep(ctx, now)
	}
	return until
}

// due reports whether housekeeping last ran (per last) at least
// housekeeping ago, and if so claims this run.
func (l *Lockout) due(last *atomic.Int64, now time.Time) bool {
	prev := last.Load()
	return now.UnixMilli()-prev >= housekeeping.Milliseconds() && last.CompareAndSwap(prev, now.UnixMilli())
}

// sweep logs the end of every lock that has ended. A failure only delays
// the log line: the next sweep finds the same locks.
func (l *Lockout) sweep(ctx context.Context, now time.Time) {
	ended, err := l.store.EndLoginLocks(ctx, now)
	if err != nil {
		l.log.Error("login locks: looking for ended locks failed", "err", err)
	}
	for _, f := range ended {
		l.log.Info("login lock ended", append(describe(f.Subject, f.Label), "ended", f.LockedUntil)...)
	}
}

// fail counts a failed login against subs and locks those that reach their
// threshold.
func (l *Lockout) fail(ctx context.Context, subs []model.LoginSubject, now time.Time) error {
	counts, err := l.store.CountLoginFailures(ctx, subs, now, now.Add(-l.policy.Window))
	if err != nil {
		return fmt.Errorf("accounts: count login failure: %w", err)
	}
	from := "" // the source of the attempt, for the log of a login's lock
	for _, s := range subs {
		if strings.HasPrefix(s.Subject, sourcePrefix) {
			from = s.Label
		}
	}
	for _, c := range counts {
		threshold := l.policy.GlobalLoginFailures
		switch {
		case strings.HasPrefix(c.Subject, sourcePrefix):
			threshold = l.policy.SourceFailures
		case strings.HasPrefix(c.Subject, pairPrefix):
			threshold = l.policy.LoginFailures
		}
		if c.Failures < threshold {
			continue
		}
		until := now.Add(l.policy.Duration)
		set, err := l.store.LockLogin(ctx, c.Subject, threshold, now, until)
		if err != nil {
			return fmt.Errorf("accounts: lock login: %w", err)
		}
		if set {
			l.observer.Locked(kindOf(c.Subject))
			l.log.Warn("login locked", append(describe(c.Subject, c.Label),
				"failures", c.Failures, "window", l.policy.Window.String(), "until", until, "last_from", from)...)
		}
	}
	if l.due(&l.lastPrune, now) {
		n, err := l.store.PruneLoginFailures(ctx, now.Add(-l.policy.Window))
		if err != nil {
			l.log.Error("login failures: pruning failed", "err", err)
		} else if n == 100 {
			l.lastPrune.Store(0) // more to do: prune again on the next failure
		}
	}
	return nil
}

// describe is what the log shows of a subject: the kind, and the login of
// an account or the source address. An unknown login name is not shown:
// it may be a password typed into the wrong field.
func describe(subject, label string) []any {
	if strings.HasPrefix(subject, sourcePrefix) {
		return []any{"kind", "source", "source", label}
	}
	if label == "" {
		label = "(not an account)"
	}
	if rest, ok := strings.CutPrefix(subject, pairPrefix); ok {
		_, src, _ := strings.Cut(rest, " ")
		return []any{"kind", "login from source", "login", label, "source", src}
	}
	return []any{"kind", "login from every unknown source", "login", label}
}
