package accounts

import (
	"context"
	"slices"
	"sync"
)

// fairSlots bounds the argon2id runs in progress, and hands a freed slot
// to the sources waiting in turn (round robin), not in arrival order: a
// source with hundreds of attempts queued waits behind its own, and a
// first login from another source waits for at most one run per slot
// plus one turn (issue 16: a flood of wrong passwords slowed every first
// login to seconds). Waiters hold no argon2id memory.
type fairSlots struct {
	mu     sync.Mutex
	size   int
	free   int
	queues map[string][]*slotWaiter // per source, oldest first
	ring   []string                 // sources with waiters, next to serve first
}

type slotWaiter struct {
	ready   chan struct{}
	granted bool // under mu: the slot is the waiter's, even if it gave up
}

func newFairSlots(n int) *fairSlots {
	return &fairSlots{size: n, free: n, queues: map[string][]*slotWaiter{}}
}

// acquire takes a slot for source, waiting for its turn; it gives up when
// ctx ends.
func (f *fairSlots) acquire(ctx context.Context, source string) error {
	f.mu.Lock()
	if f.free > 0 && len(f.ring) == 0 {
		f.free--
		f.mu.Unlock()
		return nil
	}
	w := &slotWaiter{ready: make(chan struct{})}
	if len(f.queues[source]) == 0 {
		f.ring = append(f.ring, source)
	}
	f.queues[source] = append(f.queues[source], w)
	f.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	f.mu.Lock()
	if w.granted {
		f.mu.Unlock()
		f.release()
		return ctx.Err()
	}
	q := f.queues[source]
	q = slices.DeleteFunc(q, func(x *slotWaiter) bool { return x == w })
	if len(q) == 0 {
		delete(f.queues, source)
		f.ring = slices.DeleteFunc(f.ring, func(s string) bool { return s == source })
	} else {
		f.queues[source] = q
	}
	f.mu.Unlock()
	return ctx.Err()
}

// release gives a slot back: to the next source in turn, or to the pool.
func (f *fairSlots) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ring) == 0 {
		f.free++
		return
	}
	src := f.ring[0]
	f.ring = f.ring[1:]
	q := f.queues[src]
	w := q[0]
	if q = q[1:]; len(q) > 0 {
		f.queues[src] = q
		f.ring = append(f.ring, src) // its next waiter goes to the back
	} else {
		delete(f.queues, src)
	}
	w.granted = true
	close(w.ready)
}
