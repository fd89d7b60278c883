package accounts

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Refusals from one source are paced: a burst of RefusalBurst answers at
// once, then about RefusalRate a second; a refusal over that is held
// until its turn, RefusalHold at most. A locked source's attempts cost no
// argon2id run, but answered at once a flood of them would be answered as
// fast as the machine can (thousands a second, each a database read and
// its HTTP and TLS work), and that CPU is what other sources' first logins
// need (issue 16). Held, each flooding connection asks about once a
// second; a person retrying by hand is never held.
const (
	RefusalBurst = 20
	RefusalRate  = 10
	RefusalHold  = time.Second
)

// pacerSweep is how many sources the pacer remembers before it forgets
// those whose bucket is full again.
const pacerSweep = 10_000

// refusalPacer holds refused attempts per source (RefusalBurst,
// RefusalRate, RefusalHold). It runs on real time, not the Authenticator's
// clock: it paces CPU, not lock windows.
type refusalPacer struct {
	rate  rate.Limit
	burst int
	hold  time.Duration

	mu      sync.Mutex
	sources map[string]*rate.Limiter
}

func newRefusalPacer() *refusalPacer {
	return &refusalPacer{rate: RefusalRate, burst: RefusalBurst, hold: RefusalHold, sources: map[string]*rate.Limiter{}}
}

// delay is how long a refusal from source waits for its turn now.
func (p *refusalPacer) delay(source string) time.Duration {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	lim := p.sources[source]
	if lim == nil {
		if len(p.sources) >= pacerSweep {
			for s, l := range p.sources {
				if l.TokensAt(now) >= float64(p.burst) {
					delete(p.sources, s)
				}
			}
		}
		lim = rate.NewLimiter(p.rate, p.burst)
		p.sources[source] = lim
	}
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > p.hold {
		r.CancelAt(now) // held the longest, without a turn to wait for
		d = p.hold
	}
	return d
}

// wait holds a refusal from source for its turn, or until ctx ends.
func (p *refusalPacer) wait(ctx context.Context, source string) {
	d := p.delay(source)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
