// Package costly bounds the work that anyone may ask for without logging
// in and that costs far more than answering: the test CA's signatures (a
// CRL about 700-850 us of CPU here, an OCSP answer about 260 us) and
// DecodeCSR's checks of a key (up to 2.4 ms for an RSA key of 8,192 bits),
// where a plain answer costs tens of microseconds. One stranger
// asking for either without pause took both cores from everyone
// (BENCHMARKS.md, "Sixteenth round").
//
// A Guard gives each source (an IPv4 address, or an IPv6 /64) a rate, a
// token bucket (keyrate), and runs the work of all sources together in
// half the processors' worth of slots at most, in which one source holds at
// most all but one and a freed slot goes to the waiting sources in turn
// (fairslots). Work over either is refused at once, before it is begun;
// this machine's own has no rate and waits its turn instead.
package costly

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/fairslots"
	"github.com/dcvmail/dcvmail/internal/keyrate"
	"github.com/dcvmail/dcvmail/internal/origin"
)

// ErrBusy refuses work without doing it: its source is over its rate, or
// has as much waiting for a slot as one source may.
var ErrBusy = errors.New("costly: too much costly work asked for from this source")

// The defaults. A relying party asks for a certificate's status now and
// then, and an integrator decodes a CSR before an order: 20 a second from
// one address is far above either.
const (
	DefaultRate  = 20
	DefaultBurst = 100
	// queuePerSlot is how many pieces of work one source may have waiting
	// for a slot, per slot.
	queuePerSlot = 16
)

// Guard admits costly work. Its methods are safe for concurrent use.
type Guard struct {
	slots  *fairslots.Slots
	rates  *keyrate.Limiter[string]
	exempt origin.Proxies
	clock  clock.Clock
}

// New returns a Guard with the default rate and half the processors'
// slots (at least one). Sources in exempt have no rate and no bound on
// what they have waiting, but share the slots, taking their turn with the
// others: this machine's own address, from which a test suite runs
// against serve --demo, and never a stranger. Such a suite asking with 32
// connections at once is made to wait, not refused.
func New(exempt origin.Proxies, clk clock.Clock) *Guard {
	n := max(1, runtime.GOMAXPROCS(0)/2)
	return &Guard{
		slots:  fairslots.New(n, queuePerSlot*n),
		rates:  keyrate.New[string](DefaultRate, DefaultBurst),
		exempt: exempt,
		clock:  clk,
	}
}

// Enter admits a piece of work for the client at addr, waiting for a slot
// until ctx ends. Admitted, it returns the function that gives the slot
// back; refused, ErrBusy and how long to wait before asking again (a
// whole number of seconds, at least one), or ctx's error.
func (g *Guard) Enter(ctx context.Context, addr netip.Addr) (release func(), retry time.Duration, err error) {
	src, ok := origin.Source(addr)
	if !ok {
		src = "unknown"
	}
	acquire := g.slots.AcquireTrusted
	if !g.exempt.Trusted(addr) {
		now := g.clock.Now()
		if ok, next, _ := g.rates.Allow(src, now); !ok {
			return nil, keyrate.RetryAfter(now, next), ErrBusy
		}
		acquire = g.slots.Acquire
	}
	if err := acquire(ctx, src); err != nil {
		if errors.Is(err, fairslots.ErrBusy) {
			return nil, time.Second, ErrBusy
		}
		return nil, 0, err
	}
	return func() { g.slots.Release(src) }, 0, nil
}
