package accounts

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrBusy refuses a login attempt without judging it: its source already
// has as many verifications waiting as one source may (fairSlots). Callers
// answer "try again later", never "bad login": the password was not
// checked, and the attempt is not counted as a failure.
var ErrBusy = errors.New("accounts: too many logins in progress from this source")

// fairSlots bounds the argon2id runs in progress, and shares them between
// the sources that want them (issue 16: a flood of wrong passwords from one
// source slowed every first login to seconds). Three rules:
//
//   - one source holds at most share slots at once (size-1, at least 1), so
//     that with two slots or more one is always left for the others: a
//     first login from a clean source finds a slot at once instead of
//     waiting for a flood's run to end;
//   - a freed slot goes to the waiting sources in turn (round robin), not in
//     arrival order, so a source with many attempts queued waits behind its
//     own;
//   - one source has at most queueMax attempts waiting; more are refused at
//     once with ErrBusy, so that a flood queues a bounded amount of hashing.
//
// Waiters hold no argon2id memory.
type fairSlots struct {
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

// queuePerSlot is how many attempts one source may have waiting per slot:
// with 2 slots, 64: an integrator's burst of concurrent first calls (40 in
// TestRule7ConcurrentResendsKeepTheLimit) is still checked, while a flood
// queues at most 64 argon2id runs (two seconds of one core).
const queuePerSlot = 32

func newFairSlots(n int) *fairSlots {
	return &fairSlots{size: n, share: max(1, n-1), queueMax: queuePerSlot * n, free: n,
		running: map[string]int{}, queues: map[string][]*slotWaiter{}}
}

// acquire takes a slot for source, waiting for its turn; it gives up when
// ctx ends, and refuses with ErrBusy when source has queueMax attempts
// waiting already.
func (f *fairSlots) acquire(ctx context.Context, source string) error {
	f.mu.Lock()
	q := f.queues[source]
	if len(q) >= f.queueMax {
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
		f.release(source)
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

// full reports whether source has queueMax attempts waiting: a cheap look
// before any other work for the attempt (acquire still decides).
func (f *fairSlots) full(source string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queues[source]) >= f.queueMax
}

// release gives back a slot that source held.
func (f *fairSlots) release(source string) {
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
func (f *fairSlots) dispatch() {
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
