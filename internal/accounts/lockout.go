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

	"github.com/dcvmail/dcvmail/internal/store"
)

// LockoutPolicy says how many failed logins lock what, and for how long.
// Failures are counted in a fixed window that starts at a subject's first
// failure; reaching a threshold within it locks the subject for Duration
// and starts its count afresh. While locked, every login of the subject is
// refused with the one answer of a bad login, whatever the password.
type LockoutPolicy struct {
	// LoginFailures locks a login name (an account, or a name that is
	// none: both are counted alike).
	LoginFailures int
	// SourceFailures locks a source address (IPv4, or an IPv6 /64) for
	// every login. Higher than LoginFailures: many people may share one
	// address behind NAT.
	SourceFailures int
	Window         time.Duration
	Duration       time.Duration
}

// DefaultLockoutPolicy: 20 failures of one login name or 100 from one
// source address within 15 minutes lock it for 15 minutes.
var DefaultLockoutPolicy = LockoutPolicy{
	LoginFailures:  20,
	SourceFailures: 100,
	Window:         15 * time.Minute,
	Duration:       15 * time.Minute,
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
	LoginStateOf(ctx context.Context, login string, subjects ...string) (store.LoginState, error)
	CountLoginFailures(ctx context.Context, subjects []store.LoginSubject, now, expired time.Time) ([]store.LoginFailures, error)
	LockLogin(ctx context.Context, subject string, threshold int, now, until time.Time) (bool, error)
	EndLoginLocks(ctx context.Context, now time.Time) ([]store.LoginFailures, error)
	PruneLoginFailures(ctx context.Context, expired time.Time) (int64, error)
}

// loginKeySetting names the stored HMAC key under which login names are
// counted. It lives in the database so that every node counts alike.
const loginKeySetting = "login_failure_hmac_key"

// Subject prefixes in the store.
const (
	loginPrefix  = "login:"
	sourcePrefix = "source:"
)

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

	lastSweep atomic.Int64 // Unix ms of this node's last look for ended locks
	lastPrune atomic.Int64 // Unix ms of this node's last pruning
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
	return &Lockout{store: st, policy: policy.withDefaults(), key: key, log: log}, nil
}

// Policy is the policy in force.
func (l *Lockout) Policy() LockoutPolicy { return l.policy }

// check reads, in one statement, the account of login and the counts of
// the subjects the attempt counts against, and tells whether any of them
// is locked at now. The login name's subject is labelled with the
// account's login when the name is an account's, else "" (an unknown name
// is never shown).
func (l *Lockout) check(ctx context.Context, login string, source netip.Addr, now time.Time) (st store.LoginState, subjects []store.LoginSubject, locked bool, err error) {
	subjects = l.subjects(login, source)
	names := make([]string, len(subjects))
	for i, s := range subjects {
		names[i] = s.Subject
	}
	st, err = l.store.LoginStateOf(ctx, login, names...)
	if err != nil {
		return store.LoginState{}, nil, false, fmt.Errorf("accounts: read login state: %w", err)
	}
	if st.Known {
		subjects[0].Label = st.Account.Login
	}
	return st, subjects, !l.lockedUntil(ctx, st.Failures, now).IsZero(), nil
}

// subjects are what a login attempt counts against: its login name, under a
// keyed hash (a password typed into the name field is never stored), and
// its source address when known. The login name's Label is left to check.
func (l *Lockout) subjects(login string, source netip.Addr) []store.LoginSubject {
	subs := []store.LoginSubject{{Subject: loginSubject(l.key, login)}}
	if src, ok := SourceOf(source); ok {
		subs = append(subs, store.LoginSubject{Subject: sourcePrefix + src, Label: src})
	}
	return subs
}

// SourceOf is the source a failed login from addr counts against: an IPv4
// address, or the /64 of an IPv6 address (one host commonly holds a whole
// /64). ok is false for an invalid addr.
func SourceOf(addr netip.Addr) (string, bool) {
	if !addr.IsValid() {
		return "", false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String(), true
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

// lockedUntil is when the latest lock among the counts of an attempt's
// subjects ends, or the zero time when none is locked at now. A lock seen
// ended makes this node look for ended locks to log.
func (l *Lockout) lockedUntil(ctx context.Context, counts []store.LoginFailures, now time.Time) time.Time {
	var until time.Time
	ended := false
	for _, r := range counts {
		switch {
		case r.LockedUntil.IsZero():
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
func (l *Lockout) fail(ctx context.Context, subs []store.LoginSubject, now time.Time) error {
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
		threshold := l.policy.LoginFailures
		if strings.HasPrefix(c.Subject, sourcePrefix) {
			threshold = l.policy.SourceFailures
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
	return []any{"kind", "login", "login", label}
}
