package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Sender hands one message to whatever delivers it. It returns the server's
// reply (or a description of what happened) for the evidence trail.
type Sender interface {
	Send(ctx context.Context, d store.Delivery, m Message) (reply string, err error)
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
	// baseBackoff and maxBackoff bound the retry delay.
	baseBackoff = 5 * time.Second
	maxBackoff  = 30 * time.Minute
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
	MaxAge   time.Duration
	Log      *slog.Logger

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
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	w.init()
	batch, err := w.Store.Claim(ctx, w.Owner, w.Clock.Now(), w.Lease, w.Batch)
	if err != nil {
		return 0, fmt.Errorf("mail: claim: %w", err)
	}
	sem := make(chan struct{}, w.Parallel)
	var wg sync.WaitGroup
	for _, d := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(batch), nil
}

func (w *Worker) deliver(ctx context.Context, d store.Delivery) {
	msg := Message{
		From:      w.From,
		To:        d.Recipient,
		MessageID: d.MessageID,
		Date:      w.Clock.Now(),
		Rendered:  Rendered{Subject: d.Subject, Text: d.Text, HTML: d.HTML},
	}
	sendCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	reply, err := w.Sender.Send(sendCtx, d, msg)
	cancel()
	now := w.Clock.Now()
	a := store.Attempt{DeliveryID: d.ID, At: now, Outcome: store.OutboxSent, Reply: reply}
	next := now
	var perm *PermanentError
	switch {
	case err == nil:
	case errors.As(err, &perm) || now.Sub(d.Created) > w.MaxAge:
		a.Outcome, a.Reply = store.OutboxFailed, replyOf(reply, err)
	default:
		a.Outcome, a.Reply = "retry", replyOf(reply, err)
		next = now.Add(Backoff(d.Attempts))
	}
	ok, ferr := w.Store.FinishAttempt(ctx, w.Owner, a, next)
	switch {
	case ferr != nil:
		w.Log.Error("outbox: recording an attempt failed", "delivery", d.ID, "err", ferr)
	case !ok:
		w.Log.Warn("outbox: lease lost before the attempt was recorded", "delivery", d.ID)
	case a.Outcome != store.OutboxSent:
		w.Log.Warn("outbox: delivery not done", "delivery", d.ID, "order", d.OrderNumber, "outcome", a.Outcome, "reply", a.Reply, "attempt", d.Attempts)
	}
}

func replyOf(reply string, err error) string {
	if reply != "" {
		return reply
	}
	return err.Error()
}

// Backoff is the delay before retry number attempt (1 for the first
// retry): exponential from 5 s, capped at 30 min, with ±20 % jitter so that
// many messages failing together do not retry together.
func Backoff(attempt int) time.Duration {
	d := baseBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}
