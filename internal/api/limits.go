package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/admission"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/keyrate"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// RequestLimit bounds the API requests of each account on this node: a
// token bucket of Burst requests that refills at Rate per second. It is
// kept in memory, per node: with N nodes behind a balancer an account gets
// up to N times the rate. It is checked right after authentication (check
// 6), so a request that fails an earlier check costs no token, and an
// unauthenticated flood is the lockout's business, not this one's.
type RequestLimit struct {
	Rate  float64 // requests per second per account; 0 turns the limit off
	Burst int     // requests an account may make at once
	Clock clock.Clock
}

// The defaults are generous on purpose: the limit is there to stop one
// account's runaway script or flood from starving the others, not to meter
// honest batch jobs.
const (
	DefaultRequestRate  = 50.0
	DefaultRequestBurst = 1000
)

// accountLimiter holds one token bucket per account.
type accountLimiter struct {
	limit   RequestLimit
	buckets *keyrate.Limiter[int64]
}

func newAccountLimiter(l RequestLimit) *accountLimiter {
	if l.Rate <= 0 {
		return nil
	}
	if l.Clock == nil {
		l.Clock = clock.System
	}
	return &accountLimiter{limit: l, buckets: keyrate.New[int64](l.Rate, l.Burst)}
}

// allow takes a token of acct's bucket. When there is none it returns when
// the next one will be there, and whether this is the first refusal since
// the account was last let through.
func (l *accountLimiter) allow(acct model.Account) (ok bool, next time.Time, first bool) {
	if l == nil {
		return true, time.Time{}, false
	}
	return l.buckets.Allow(acct.ID, l.limit.Clock.Now())
}

// limitRequest refuses a request of acct over its account's limit: -14,
// the contract's code for "not now, try again" (docs/api.md has none for
// throttling; docs/sectigo-divergences.md says why this one), with a
// Retry-After header and an errorDetail that say when.
func (h *Handler) limitRequest(w http.ResponseWriter, c *call, acct model.Account) bool {
	ok, next, first := h.limiter.allow(acct)
	if ok {
		return true
	}
	if first {
		h.log.Warn("account over its request limit", "request", c.id, "login", acct.Login,
			"rate", h.limiter.buckets.Rate(), "burst", h.limiter.buckets.Burst(), "next", next)
	}
	wait := keyrate.RetryAfter(h.limiter.limit.Clock.Now(), next)
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
	h.writeError(w, c, &wire.Error{Code: wire.Internal,
		Detail: "request limit reached; retry after " + next.UTC().Format(time.RFC3339)})
	return false
}

// busy answers a login attempt that was neither judged nor counted because
// its source has as many verifications waiting as one source may
// (accounts.ErrBusy): -14 with Retry-After, as over the request limit. It
// is not logged one by one: a flood would fill the log; the request's own
// log line carries the -14.
func (h *Handler) busy(w http.ResponseWriter, c *call) {
	next := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	w.Header().Set("Retry-After", "1")
	h.writeError(w, c, &wire.Error{Code: wire.Internal,
		Detail: "too many logins in progress from this source; retry after " + next.Format(time.RFC3339)})
}

// backlogged answers a call that writes while the database's writes are
// backlogged (admission.Gate): -14 with Retry-After, as over the request
// limit, at once and before authentication, so that an overloaded node
// spends nothing more on it, writes nothing (not even a failed login's
// count) and tells the caller nothing about its password. Like busy, it is
// not logged one by one; the gate logs the first refusal of a run.
func (h *Handler) backlogged(w http.ResponseWriter, c *call) {
	// The time named is the first whole second at least RetryAfter away,
	// as Retry-After says.
	next := time.Now().UTC().Add(admission.RetryAfter)
	if whole := next.Truncate(time.Second); !whole.Equal(next) {
		next = whole.Add(time.Second)
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(admission.RetryAfter/time.Second)))
	h.writeError(w, c, &wire.Error{Code: wire.Internal,
		Detail: "the service is busy; retry after " + next.Format(time.RFC3339)})
}

// sourceOf is the address a request comes from, for counting failed logins
// per source: the TCP peer, or, when the peer is a trusted proxy, the
// rightmost X-Forwarded-For address that is not itself a trusted proxy (a
// client can write anything to the left of what the proxies appended).
func (h *Handler) sourceOf(r *http.Request) netip.Addr { return h.proxies.Of(r).IP }

// redactor removes a request's secrets from text bound for the log: the
// password it carried, should an error or a panic quote it.
type redactor struct{ secrets []string }

func (r redactor) redact(s string) string {
	for _, v := range r.secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}
