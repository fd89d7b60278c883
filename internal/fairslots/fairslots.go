// Package fairslots bounds an expensive kind of work in progress, and
// shares it between the sources (IPv4 addresses, IPv6 /64s) that want it,
// so that a flood from one source does not take it from everyone else.
// Its users: the argon2id runs of logins (internal/accounts; issue 16: a
// flood of wrong passwords from one source slowed every first login to
// seconds) and the costly work anyone may ask for without logging in, the
// test CA's signatures and DecodeCSR's key checks (internal/costly).
package fairslots

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrBusy refuses work without doing it: its source already has as many
// waiting as one source may. Callers answer "try again later".
var ErrBusy = errors.New("fairslots: too much work waiting from this source")

// Slots bounds the work in progress with three rules:
//
//   - one source holds at most share slots at once (size-1, at least 1), so
//     that with two slots or more one is always left for the others: a
//     clean source finds a slot at once instead of waiting for a flood's
//     work to end;
//   - a freed slot goes to the waiting sources in turn (round robin), not in
//     arrival order, so a source with much work queued waits behind its
//     own;
//   - one source has at most queueMax pieces of work waiting; more are
//     refused at once with ErrBusy, so that a flood queues a bounded
//     amount of work.
//
// Waiters hold nothing but their place.
type Slots struct {
	mu       sync.Mutex
	size     int
	share    int // slots one source may hold at once
	queueMax int // attempts one source may have waiting
	free     int
	running  map[string]int           // slots held, per source
	queues   map[string][]*slotWaiter // per source, oldest first
	ring     []string                 // sources with waiters, next to serve first
}

type slotWaiter struct {
	ready   chan struct{}
	granted bool // under mu: the slot is the waiter's, even if it gave up
}

// New returns n slots, of which one source may have queueMax pieces of
// work waiting.
func New(n, queueMax int) *Slots {
	return &Slots{size: n, share: max(1, n-1), queueMax: queueMax, free: n,
		running: map[string]int{}, queues: map[string][]*slotWaiter{}}
}

// Size is the number of slots.
func (f *Slots) Size() int { return f.size }

// Acquire takes a slot for source, waiting for its turn; it gives up when
// ctx ends, and refuses with ErrBusy when source has queueMax pieces of
// work waiting already.
func (f *Slots) Acquire(ctx context.Context, source string) error {
	return f.acquire(ctx, source, true)
}

// AcquireTrusted is Acquire for a source whose work is never refused, only
// made to wait its turn: this machine's own, whose waiting is bounded by
// what it sends.
func (f *Slots) AcquireTrusted(ctx context.Context, source string) error {
	return f.acquire(ctx, source, false)
}

func (f *Slots) acquire(ctx context.Context, source string, capped bool) error {
	f.mu.Lock()
	q := f.queues[source]
	if capped && len(q) >= f.queueMax {
		f.mu.Unlock()
		return ErrBusy
	}
	w := &slotWaiter{ready: make(chan struct{})}
	if len(q) == 0 {
		f.ring = append(f.ring, source)
	}
	f.queues[source] = append(q, w)
	f.dispatch()
	granted := w.granted
	f.mu.Unlock()
	if granted {
		return nil
	}
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	f.mu.Lock()
	if w.granted {
		f.mu.Unlock()
		f.Release(source)
		return ctx.Err()
	}
	q = slices.DeleteFunc(f.queues[source], func(x *slotWaiter) bool { return x == w })
	if len(q) == 0 {
		delete(f.queues, source)
		f.ring = slices.DeleteFunc(f.ring, func(s string) bool { return s == source })
	} else {
		f.queues[source] = q
	}
	f.mu.Unlock()
	return ctx.Err()
}

// Full reports whether source has queueMax pieces of work waiting: a cheap
// look before anything else is done for it (Acquire still decides).
func (f *Slots) Full(source string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queues[source]) >= f.queueMax
}

// Release gives back a slot that source held.
func (f *Slots) Release(source string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free++
	if f.running[source]--; f.running[source] <= 0 {
		delete(f.running, source)
	}
	f.dispatch()
}

// dispatch hands the free slots, under mu, to the waiting sources in turn,
// skipping those that hold their share.
func (f *Slots) dispatch() {
	for i := 0; f.free > 0 && i < len(f.ring); {
		src := f.ring[i]
		if f.running[src] >= f.share {
			i++
			continue
		}
		q := f.queues[src]
		w := q[0]
		f.ring = slices.Delete(f.ring, i, i+1)
		if q = q[1:]; len(q) > 0 {
			f.queues[src] = q
			f.ring = append(f.ring, src) // its next waiter goes to the back
		} else {
			delete(f.queues, src)
		}
		f.free--
		f.running[src]++
		w.granted = true
		close(w.ready)
	}
}

// Waiting is how many pieces of work wait for a slot, from all sources.
func (f *Slots) Waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, q := range f.queues {
		n += len(q)
	}
	return n
}
