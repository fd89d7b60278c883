package store

import (
	"context"
	"sync"

	"github.com/dcvmail/dcvmail/internal/model"
)

// offerBatch writes the offers of concurrent GetDCVEmailAddressList calls
// on PostgreSQL together: the calls that arrive while one upsert runs go
// into the next, one statement and one flushed commit for all of them
// (BENCHMARKS.md, "Fourth round"). Each call returns once its offers are
// committed, as alone. A statement that fails is run again call by call,
// so that one call's bad offers fail that call alone. SQLite's group
// commit does the same for every transaction.
type offerBatch struct {
	q Queries // on the pool: each upsert is a statement of its own

	mu      sync.Mutex
	queue   []*offerCall
	writing bool          // an upsert of queued calls is running
	oldest  oldestWaiting // when queue[0] came (backlog.go)
}

type offerCall struct {
	offers []model.Offer // unique (uniqueOffers)
	done   chan error    // buffered: the writer never waits on a caller
	queued int64         // monoNow when it came
}

// record stores offers, which fit one statement, with whatever other
// calls' offers are queued beside them.
func (b *offerBatch) record(ctx context.Context, offers []model.Offer) error {
	c := &offerCall{offers: uniqueOffers(offers), done: make(chan error, 1), queued: monoNow()}
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.oldest.set(c.queued)
	}
	b.queue = append(b.queue, c)
	lead := !b.writing
	b.writing = true
	b.mu.Unlock()
	if lead {
		// The batch holds other callers' offers: it outlives this caller.
		b.write(context.WithoutCancel(ctx))
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write upserts the queued calls that fit one statement and answers them;
// calls queued meanwhile are written by a goroutine of their own, so that
// no caller waits for more than its own batch.
func (b *offerBatch) write(ctx context.Context) {
	b.mu.Lock()
	n, rows := 0, 0
	for n < len(b.queue) && (n == 0 || rows+len(b.queue[n].offers) <= offersPerStatement) {
		rows += len(b.queue[n].offers)
		n++
	}
	batch := b.queue[:n]
	b.queue = append([]*offerCall(nil), b.queue[n:]...)
	if len(b.queue) > 0 {
		b.oldest.set(b.queue[0].queued)
	} else {
		b.oldest.set(0)
	}
	b.mu.Unlock()

	err := b.q.RecordOffers(ctx, merged(batch))
	if err != nil && len(batch) > 1 {
		for _, c := range batch {
			c.done <- b.q.RecordOffers(ctx, c.offers)
		}
	} else {
		for _, c := range batch {
			c.done <- err
		}
	}

	b.mu.Lock()
	more := len(b.queue) > 0
	b.writing = more
	b.mu.Unlock()
	if more {
		go b.write(ctx)
	}
}

// merged is the offers of calls in the order they came, one per row: of
// two calls that offered the same address for the same name, the newer
// offer's source, ADN, product and time are kept (of two at the same time,
// the later call's), as rule 3 wants the newest offer of each address.
func merged(calls []*offerCall) []model.Offer {
	if len(calls) == 1 {
		return calls[0].offers
	}
	at := make(map[offerKey]int)
	var out []model.Offer
	for _, c := range calls {
		for _, o := range c.offers {
			k := keyOf(o)
			if i, ok := at[k]; ok {
				if !o.At.Before(out[i].At) {
					out[i] = o
				}
				continue
			}
			at[k] = len(out)
			out = append(out, o)
		}
	}
	return out
}
