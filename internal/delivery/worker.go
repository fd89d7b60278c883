// Package delivery sends DCV emails: the outbox worker (leases, retries,
// the age limit) and the senders, the built-in mailbox and SMTP. What a
// message says is package mail's; whom it may go to, package dcv's.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Sender hands one message to whatever delivers it. It returns the server's
// reply (or a description of what happened) for the evidence trail.
type Sender interface {
	Send(ctx context.Context, d model.Delivery, m mail.Message) (reply string, err error)
}

// PermanentError is a failure that retrying cannot mend (an SMTP 5xx
// answer): the outbox gives the delivery up.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Outbox worker defaults.
const (
	// DefaultLease is how long a claim lasts; a worker that crashed gives its
	// claims back after it.
	DefaultLease = 2 * time.Minute
	// DefaultPoll is how often the worker looks for due messages when
	// nothing wakes it (messages enqueued by other nodes, retries).
	DefaultPoll = 100 * time.Millisecond
	// DefaultBatch is how many deliveries one claim takes.
	DefaultBatch = 64
	// DefaultParallel is how many deliveries of a batch run at once.
	DefaultParallel = 8
	// DefaultMaxAge is how long temporary failures are retried.
	DefaultMaxAge = 48 * time.Hour
	// DefaultRetryBase is the delay before the first retry; each further
	// retry waits twice as long, up to DefaultRetryMax.
	DefaultRetryBase = 5 * time.Second
	// DefaultRetryMax caps the retry delay.
	DefaultRetryMax = 30 * time.Minute
	// DefaultSendTimeout bounds one attempt as a whole (the sender's own
	// timeouts bound each step of it). It is also capped at a third of the
	// lease, so that an attempt ends well before another worker may take
	// the delivery over.
	DefaultSendTimeout = 2 * time.Minute
)

// Worker drains the outbox: it claims due deliveries with a lease, sends
// each, and records the outcome. Several workers, in one process or on
// several nodes, may drain one outbox.
type Worker struct {
	Store    *store.Store
	Sender   Sender
	Clock    clock.Clock
	From     string // the From address
	Owner    string // names this worker's leases; unique per process
	Batch    int
	Parallel int
	Lease    time.Duration
	Poll     time.Duration
	MaxAge   time.Duration // temporary failures are retried until a delivery is this old
	// RetryBase and RetryMax shape the backoff (DefaultRetryBase,
	// DefaultRetryMax).
	RetryBase, RetryMax time.Duration
	// SendTimeout bounds one attempt (DefaultSendTimeout, at most Lease/3).
	SendTimeout time.Duration
	Log         *slog.Logger
	// Observe, when set, hears of every recorded attempt's outcome: sent,
	// retry or failed (the metrics and the readiness check).
	Observe func(outcome model.Outcome)

	wakeOnce sync.Once
	wake     chan struct{}
}

func (w *Worker) init() {
	w.wakeOnce.Do(func() {
		w.wake = make(chan struct{}, 1)
		if w.Clock == nil {
			w.Clock = clock.System
		}
		if w.Batch <= 0 {
			w.Batch = DefaultBatch
		}
		if w.Parallel <= 0 {
			w.Parallel = DefaultParallel
		}
		if w.Lease <= 0 {
			w.Lease = DefaultLease
		}
		if w.Poll <= 0 {
			w.Poll = DefaultPoll
		}
		if w.MaxAge <= 0 {
			w.MaxAge = DefaultMaxAge
		}
		if w.RetryBase <= 0 {
			w.RetryBase = DefaultRetryBase
		}
		if w.RetryMax <= 0 {
			w.RetryMax = DefaultRetryMax
		}
		w.RetryMax = max(w.RetryMax, w.RetryBase)
		if w.SendTimeout <= 0 {
			w.SendTimeout = DefaultSendTimeout
		}
		w.SendTimeout = min(w.SendTimeout, w.Lease/3)
		if w.Log == nil {
			w.Log = slog.Default()
		}
	})
}

// Wake makes the worker look for due messages now (called after a commit
// that enqueued one). It never blocks.
func (w *Worker) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx is done. A batch in progress when ctx ends
// is finished first (its sends get a short grace period), so that stopping
// never leaves a sent message unrecorded; anything left is picked up again
// after its lease.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		for {
			n, err := w.DeliverDue(context.WithoutCancel(ctx))
			if err != nil {
				w.Log.Error("outbox round failed", "err", err)
				break
			}
			if n < w.Batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// DeliverDue claims one batch of due deliveries, sends them and records the
// outcomes. It returns how many it claimed.
//
// A claim is a lease: after it, another worker may take the deliveries over
// and send them again. So an attempt starts only while enough of the lease
// is left for it to end (SendTimeout) and be recorded; deliveries that a
// slow batch cannot reach in time are handed back at once, unsent.
//
// Outcomes are recorded by one goroutine that commits whatever has finished
// meanwhile in one transaction (a group commit): on a durable database each
// commit waits for the disk, and one commit per message would cap delivery
// at the disk's flush rate.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	w.init()
	claimed := time.Now() // the lease is measured on the monotonic clock
	batch, err := w.Store.Claim(ctx, w.Owner, w.Clock.Now(), w.Lease, w.Batch)
	if err != nil {
		return 0, fmt.Errorf("mail: claim: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	outcomes := make(chan outcome, len(batch))
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.recordOutcomes(ctx, outcomes)
	}()
	startBy := w.Lease - w.SendTimeout - w.Lease/10
	sem := make(chan struct{}, w.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var late []int64
	for _, d := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if time.Since(claimed) > startBy {
				mu.Lock()
				late = append(late, d.ID)
				mu.Unlock()
				return
			}
			outcomes <- w.deliver(ctx, d)
		}()
	}
	wg.Wait()
	close(outcomes)
	<-recorded
	if len(late) > 0 {
		if err := w.Store.Release(ctx, w.Owner, late, w.Clock.Now()); err != nil {
			w.Log.Error("outbox: handing back unsent deliveries failed; they return after the lease", "count", len(late), "err", err)
		} else {
			w.Log.Warn("outbox: a slow batch handed deliveries back unsent", "count", len(late))
		}
	}
	return len(batch), nil
}

// outcome is one finished attempt, to be recorded.
type outcome struct {
	d         model.Delivery
	a         model.Attempt
	next      time.Time
	permanent bool
}

// deliver makes one attempt and says what to record.
func (w *Worker) deliver(ctx context.Context, d model.Delivery) outcome {
	msg := mail.Message{
		From:      w.From,
		To:        d.Recipient,
		MessageID: d.MessageID,
		Date:      w.Clock.Now(),
		Rendered:  mail.Rendered{Subject: d.Subject, Text: d.Text, HTML: d.HTML},
	}
	var reply string
	err := d.Unreadable
	if err == nil {
		sendCtx, cancel := context.WithTimeout(ctx, w.SendTimeout)
		reply, err = w.Sender.Send(sendCtx, d, msg)
		cancel()
	} else {
		// A sealed message this node cannot open is never sent empty.
		err = &PermanentError{Err: err}
	}
	now := w.Clock.Now()
	o := outcome{d: d, a: model.Attempt{DeliveryID: d.ID, At: now, Outcome: model.OutcomeSent, Reply: reply}, next: now}
	var perm *PermanentError
	deadline := d.Created.Add(w.MaxAge)
	switch {
	case err == nil:
	case errors.As(err, &perm) || !now.Before(deadline):
		o.a.Outcome, o.a.Reply, o.permanent = model.OutcomeFailed, replyOf(reply, err), perm != nil
	default:
		o.a.Outcome, o.a.Reply = model.OutcomeRetry, replyOf(reply, err)
		// The last retry happens at the deadline, not after it.
		o.next = now.Add(w.backoff(d.Attempts))
		if o.next.After(deadline) {
			o.next = deadline
		}
	}
	return o
}

// maxGroup bounds the outcomes recorded in one transaction.
const maxGroup = 256

// recordOutcomes records outcomes as they come, each time all those that
// are waiting, in one transaction, until the channel is closed.
func (w *Worker) recordOutcomes(ctx context.Context, in <-chan outcome) {
	group := make([]outcome, 0, maxGroup)
	for o := range in {
		group = append(group[:0], o)
	more:
		for len(group) < maxGroup {
			select {
			case o, ok := <-in:
				if !ok {
					break more
				}
				group = append(group, o)
			default:
				break more
			}
		}
		w.record(ctx, group)
	}
}

// record stores attempts and the deliveries' new states in one
// transaction. A message that went out must not be sent again because the
// database hiccupped, so recording is retried a few times.
func (w *Worker) record(ctx context.Context, group []outcome) {
	held := make([]bool, len(group))
	var err error
	for i := range 4 {
		if i > 0 {
			time.Sleep(time.Duration(i) * 250 * time.Millisecond)
		}
		err = w.Store.Tx(ctx, func(tx model.Tx) error {
			for j, o := range group {
				ok, err := tx.FinishAttempt(ctx, w.Owner, o.a, o.next)
				if err != nil {
					return err
				}
				held[j] = ok
			}
			return nil
		})
		if err == nil {
			break
		}
	}
	for j, o := range group {
		d, a := o.d, o.a
		if err == nil && held[j] && w.Observe != nil {
			w.Observe(a.Outcome)
		}
		switch {
		case err != nil:
			w.Log.Error("outbox: recording an attempt failed", "delivery", d.ID, "outcome", a.Outcome, "reply", a.Reply, "err", err)
		case !held[j]:
			w.Log.Warn("outbox: lease lost before the attempt was recorded", "delivery", d.ID, "outcome", a.Outcome, "reply", a.Reply)
		case a.Outcome == model.OutcomeFailed && o.permanent:
			w.Log.Warn("outbox: delivery refused for good", "delivery", d.ID, "order", d.OrderNumber, "reply", a.Reply, "attempt", d.Attempts)
		case a.Outcome == model.OutcomeFailed:
			// ERROR: a DCV email that will never arrive, most often because
			// the relay has been failing for --mail-max-age.
			w.Log.Error("outbox: delivery given up: too old to retry", "delivery", d.ID, "order", d.OrderNumber, "reply", a.Reply, "attempt", d.Attempts, "queued", d.Created)
		case a.Outcome != model.OutcomeSent:
			w.Log.Warn("outbox: delivery not done, will retry", "delivery", d.ID, "order", d.OrderNumber, "reply", a.Reply, "attempt", d.Attempts, "next", o.next)
		}
	}
}

func replyOf(reply string, err error) string {
	if reply != "" {
		return reply
	}
	return err.Error()
}

func (w *Worker) backoff(attempt int) time.Duration {
	return backoff(attempt, w.RetryBase, w.RetryMax)
}

// Backoff is the delay before retry number attempt (1 for the first retry)
// with the default base and cap: see backoff.
func Backoff(attempt int) time.Duration { return backoff(attempt, DefaultRetryBase, DefaultRetryMax) }

// backoff is exponential from base, capped at limit, with ±20 % jitter so
// that many messages failing together do not retry together.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}
