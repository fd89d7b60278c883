// Package keyrate keeps one token bucket per key, in memory: the requests
// of each account of the API (internal/api), and the costly work one
// source may ask for without logging in (internal/costly).
package keyrate

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// minSweep is the number of keys under which none is forgotten.
const minSweep = 4096

// Limiter holds a bucket of Burst tokens per key that refills at Rate per
// second. A key whose bucket is full again is forgotten when the map has
// doubled since it was last swept, so that keys that come and go (a flood
// from ever new addresses) cost a bounded map and amortized constant work.
// Its methods are safe for concurrent use.
type Limiter[K comparable] struct {
	rate  float64
	burst int

	mu    sync.Mutex
	keys  map[K]*bucket
	swept int // keys left by the last sweep
}

type bucket struct {
	lim     *rate.Limiter
	limited bool // the last request was refused: only the first refusal of a run is news
}

// New returns a Limiter of perSecond tokens a second and burst at once
// (at least 1), or nil, which allows everything, when perSecond is not
// positive.
func New[K comparable](perSecond float64, burst int) *Limiter[K] {
	if perSecond <= 0 {
		return nil
	}
	return &Limiter[K]{rate: perSecond, burst: max(1, burst), keys: map[K]*bucket{}}
}

// Rate and Burst are the limiter's settings.
func (l *Limiter[K]) Rate() float64 { return l.rate }
func (l *Limiter[K]) Burst() int    { return l.burst }

// Allow takes a token of key's bucket at now. When there is none it
// returns when the next one will be there, rounded up to a whole second
// (answers name a time to the second), and whether this is the first
// refusal since key was last let through.
func (l *Limiter[K]) Allow(key K, now time.Time) (ok bool, next time.Time, first bool) {
	if l == nil {
		return true, time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if n := len(l.keys); n >= minSweep && n >= 2*l.swept {
			for k, other := range l.keys {
				if other.lim.TokensAt(now) >= float64(l.burst) {
					delete(l.keys, k)
				}
			}
			l.swept = len(l.keys)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rate), l.burst)}
		l.keys[key] = b
	}
	if b.lim.AllowN(now, 1) {
		b.limited = false
		return true, time.Time{}, false
	}
	missing := 1 - b.lim.TokensAt(now)
	next = now.Add(time.Duration(missing / l.rate * float64(time.Second)))
	if whole := next.Truncate(time.Second); !whole.Equal(next) {
		next = whole.Add(time.Second)
	}
	first = !b.limited
	b.limited = true
	return false, next, first
}

// RetryAfter is how long a refusal at now tells its client to wait for the
// token that comes at next: whole seconds (HTTP's Retry-After), rounded up
// so that the client does not come back before it, and at least one.
func RetryAfter(now, next time.Time) time.Duration {
	return max(time.Second, (next.Sub(now) + time.Second - 1).Truncate(time.Second))
}

// Keys is how many keys the limiter remembers.
func (l *Limiter[K]) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
