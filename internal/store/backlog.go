package store

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// The write backlog.
//
// Every write of the store waits in one queue before it starts: on SQLite
// for the one writer (groupcommit.go), on PostgreSQL for a connection of
// the pool, and an address list's offers on PostgreSQL for their upsert
// (offerbatch.go). When writes arrive faster than the database takes them,
// those queues grow without bound and every caller waits for everyone
// ahead of it: seconds, with enough callers. WriteBacklog tells how long
// the oldest write still waiting has waited, so that the API and the page
// can refuse new writes at once while it is long (admission.Gate) rather
// than queue them too.
//
// The age of a queue's oldest waiter is measured directly, not estimated
// from its length: one write may cost many times another, and the
// machine's own stalls hold up whatever is queued.

// oldestWaiting is when the oldest caller still waiting in one queue came
// (monotonic nanoseconds, see monoNow; 0: nobody waits). The queue's owner
// sets it, under its own lock, whenever its head changes; anyone reads it.
type oldestWaiting struct{ since atomic.Int64 }

func (o *oldestWaiting) set(t int64) { o.since.Store(t) }

// age is how long the oldest caller has waited at t (0: nobody waits).
func (o *oldestWaiting) age(t int64) time.Duration {
	s := o.since.Load()
	if s == 0 || t < s {
		return 0
	}
	return time.Duration(t - s)
}

// processStart anchors monoNow's monotonic readings.
var processStart = time.Now()

// monoNow is a monotonic reading in nanoseconds, never 0 (which means
// "nobody" in oldestWaiting): a change of the wall clock moves no age.
func monoNow() int64 { return int64(time.Since(processStart)) + 1 }

// waitLine is a queue the store does not order itself (the pool hands its
// connections to waiters in no set order): callers join when they start
// waiting and leave when they stop, and the line keeps them in arrival
// order so that its oldest is known.
type waitLine struct {
	mu     sync.Mutex
	l      list.List // of int64 arrival times, oldest first
	oldest oldestWaiting
}

// join enters the line; leave with what it returns.
func (w *waitLine) join() *list.Element {
	t := monoNow()
	w.mu.Lock()
	e := w.l.PushBack(t)
	if w.l.Len() == 1 {
		w.oldest.set(t)
	}
	w.mu.Unlock()
	return e
}

func (w *waitLine) leave(e *list.Element) {
	w.mu.Lock()
	head := w.l.Front() == e
	w.l.Remove(e)
	if head {
		var t int64
		if f := w.l.Front(); f != nil {
			t = f.Value.(int64)
		}
		w.oldest.set(t)
	}
	w.mu.Unlock()
}

// WriteBacklog is how long the oldest of the writes now waiting to start
// has waited (0 when none waits): on SQLite, the transactions queued for
// the writer behind the batch it runs; on PostgreSQL, the transactions
// waiting for a connection of the pool and the address lists' offers
// waiting for their upsert. A transaction that waits on another's row lock
// has started, and a page POST waiting for its source's turn (TxFor) is
// not counted: both are one key's queue, not the database's. It costs one
// atomic load per queue.
func (s *Store) WriteBacklog() time.Duration {
	t := monoNow()
	if s.group != nil {
		return s.group.oldest.age(t)
	}
	age := s.poolWait.oldest.age(t)
	if s.offers != nil {
		age = max(age, s.offers.oldest.age(t))
	}
	return age
}
