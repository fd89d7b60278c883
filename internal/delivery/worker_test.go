package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// outboxEnv is a database with one account and orders whose first DCV
// emails wait in the outbox, a fake clock, and a worker that delivers over
// SMTP to a sink. Tests call DeliverDue themselves and move the clock.
type outboxEnv struct {
	t      *testing.T
	app    *server.App
	clock  *clock.Fake
	sink   *sink
	worker *delivery.Worker
	orders []int64
}

func newOutboxEnv(t *testing.T, orders int, mod func(*delivery.Worker, *sink)) *outboxEnv {
	t.Helper()
	return newOutboxEnvOn(t, store.SQLiteURL(filepath.Join(t.TempDir(), "dcvmail.db")), orders, mod)
}

func newOutboxEnvOn(t *testing.T, dbURL string, orders int, mod func(*delivery.Worker, *sink)) *outboxEnv {
	t.Helper()
	ctx := context.Background()
	fake := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	app, err := server.Open(ctx, server.AppOptions{
		DatabaseURL: dbURL,
		Clock:       fake,
		PublicURL:   "https://dcv.test",
		MailFrom:    "dcv@dcvmail.test",
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if _, err := app.Store.Direct().CreateAccount(ctx, model.Account{Login: "alice", PasswordHash: "x", Created: fake.Now()}); err != nil {
		t.Fatal(err)
	}
	var numbers []int64
	for i := range orders {
		d := fmt.Sprintf("d%d.example.com", i)
		n, err := app.DCV.CreateOrder(ctx, dcv.NewOrder{Login: "alice", Domains: []string{d}, DCVEmail: "admin@" + d})
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, n)
	}
	sk := startSink(t, sinkOptions{})
	smtp := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", func(c *delivery.SMTPConfig) { c.Timeout = 2 * time.Second })
	w := &delivery.Worker{
		Store:     app.Store,
		Sender:    smtp,
		Clock:     fake,
		From:      "dcv@dcvmail.test",
		Owner:     "test-worker",
		RetryBase: 5 * time.Second,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(w, sk)
	}
	return &outboxEnv{t: t, app: app, clock: fake, sink: sk, worker: w, orders: numbers}
}

func (e *outboxEnv) deliverDue() int {
	e.t.Helper()
	n, err := e.worker.DeliverDue(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// deliveries are every delivery with its attempts, oldest first.
func (e *outboxEnv) deliveries() ([]model.Delivery, []model.Attempt) {
	e.t.Helper()
	var ds []model.Delivery
	var as []model.Attempt
	for _, n := range e.orders {
		d, err := e.app.Store.DeliveriesOfOrder(context.Background(), n)
		if err != nil {
			e.t.Fatal(err)
		}
		a, err := e.app.Store.AttemptsOfOrder(context.Background(), n)
		if err != nil {
			e.t.Fatal(err)
		}
		ds, as = append(ds, d...), append(as, a...)
	}
	return ds, as
}

func attemptLog(as []model.Attempt) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s %s\n", a.Outcome, a.Reply)
	}
	return b.String()
}

// 4xx answers are retried after an exponential backoff, each attempt and
// the server's reply kept as evidence, until the server takes the message.
func TestWorkerRetriesTemporaryFailures(t *testing.T) {
	e := newOutboxEnv(t, 1, nil)
	var calls atomic.Int32
	e.sink.setHook(func(stage string, c *gosmtp.Conn) error {
		if stage != "RCPT" {
			return nil
		}
		switch calls.Add(1) {
		case 1:
			return smtpErr(451, gosmtp.EnhancedCode{4, 7, 1}, "Greylisted, try again later")
		case 2:
			return drop(c)
		}
		return nil
	})
	if n := e.deliverDue(); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	if n := e.deliverDue(); n != 0 {
		t.Fatalf("retried at once (%d)", n)
	}
	e.clock.Advance(3 * time.Second) // less than 5 s - 20 %
	if n := e.deliverDue(); n != 0 {
		t.Fatalf("retried before the backoff (%d)", n)
	}
	e.clock.Advance(3 * time.Second) // 6 s: past 5 s + 20 %
	if n := e.deliverDue(); n != 1 {
		t.Fatalf("second attempt: claimed %d", n)
	}
	e.clock.Advance(7 * time.Second) // the second backoff is 10 s ± 20 %
	if n := e.deliverDue(); n != 0 {
		t.Fatalf("retried before the second backoff (%d)", n)
	}
	e.clock.Advance(5 * time.Second)
	if n := e.deliverDue(); n != 1 {
		t.Fatalf("third attempt: claimed %d", n)
	}
	ds, as := e.deliveries()
	if len(ds) != 1 || ds[0].State != model.DeliverySent || ds[0].Attempts != 3 || !strings.HasPrefix(ds[0].LastReply, "250 2.0.0 OK: queued") {
		t.Fatalf("delivery %+v", ds)
	}
	log := attemptLog(as)
	want := []string{
		"retry RCPT TO: 451 4.7.1 Greylisted, try again later\n",
		"retry RCPT TO: ", // the dropped connection: EOF or reset
		"sent 250 2.0.0 OK: queued\n",
	}
	lines := strings.SplitAfter(log, "\n")
	if len(as) != 3 || lines[0] != want[0] || !strings.HasPrefix(lines[1], want[1]) || lines[2] != want[2] {
		t.Fatalf("attempts:\n%swant\n%s", log, strings.Join(want, ""))
	}
	if len(e.sink.messages()) != 1 {
		t.Fatalf("%d messages at the server", len(e.sink.messages()))
	}
}

// A 5xx answer gives the delivery up at once, with the reply as evidence.
func TestWorkerGivesUpOnPermanentFailure(t *testing.T) {
	e := newOutboxEnv(t, 1, nil)
	e.sink.setHook(func(stage string, _ *gosmtp.Conn) error {
		if stage == "RCPT" {
			return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "No such user here")
		}
		return nil
	})
	e.deliverDue()
	e.clock.Advance(time.Hour)
	if n := e.deliverDue(); n != 0 {
		t.Fatalf("a refused delivery was tried again (%d)", n)
	}
	ds, as := e.deliveries()
	if len(ds) != 1 || ds[0].State != model.DeliveryFailed || ds[0].LastReply != "RCPT TO: 550 5.1.1 No such user here" {
		t.Fatalf("delivery %+v", ds)
	}
	if attemptLog(as) != "failed RCPT TO: 550 5.1.1 No such user here\n" {
		t.Fatalf("attempts:\n%s", attemptLog(as))
	}
}

// Temporary failures are retried until the delivery reaches the operator's
// maximum age; the last retry happens at that age, then it is given up.
func TestWorkerGivesUpAtMaxAge(t *testing.T) {
	e := newOutboxEnv(t, 1, func(w *delivery.Worker, _ *sink) { w.MaxAge = time.Minute })
	e.sink.setHook(func(stage string, _ *gosmtp.Conn) error {
		if stage == "MAIL" {
			return smtpErr(421, gosmtp.EnhancedCode{4, 3, 2}, "Service shutting down")
		}
		return nil
	})
	created := e.clock.Now()
	for range 90 {
		e.deliverDue()
		e.clock.Advance(time.Second)
	}
	ds, as := e.deliveries()
	if len(ds) != 1 || ds[0].State != model.DeliveryFailed {
		t.Fatalf("delivery %+v\n%s", ds, attemptLog(as))
	}
	last := as[len(as)-1]
	if last.Outcome != model.OutcomeFailed || !last.At.Equal(created.Add(time.Minute)) || !strings.Contains(last.Reply, "421 4.3.2") {
		t.Fatalf("last attempt %+v, want a failure at the max age", last)
	}
	// 5, 10, 20 s backoffs (±20 %), then the deadline: 4 or 5 attempts.
	if len(as) < 4 || len(as) > 5 {
		t.Fatalf("%d attempts:\n%s", len(as), attemptLog(as))
	}
	for _, a := range as[:len(as)-1] {
		if a.Outcome != model.OutcomeRetry {
			t.Fatalf("attempts:\n%s", attemptLog(as))
		}
	}
}

// A stalling server costs one timeout, not the worker: the attempt is
// recorded as a retry and the other deliveries go on.
func TestWorkerSurvivesStallingServer(t *testing.T) {
	e := newOutboxEnv(t, 3, func(w *delivery.Worker, sk *sink) {
		w.Sender = newSMTP(t, "smtp://"+sk.Addr+"?tls=none", func(c *delivery.SMTPConfig) { c.Timeout = 300 * time.Millisecond })
		w.Parallel = 1
	})
	var calls atomic.Int32
	e.sink.setHook(func(stage string, _ *gosmtp.Conn) error {
		if stage == "DATA" && calls.Add(1) == 1 {
			return e.sink.stall()
		}
		return nil
	})
	start := time.Now()
	if n := e.deliverDue(); n != 3 {
		t.Fatalf("claimed %d", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a batch with one stall took %v", d)
	}
	ds, as := e.deliveries()
	var sent, retry int
	for _, d := range ds {
		switch d.State {
		case model.DeliverySent:
			sent++
		case model.DeliveryPending:
			retry++
			if !strings.Contains(d.LastReply, "timeout") {
				t.Errorf("stalled delivery's reply %q", d.LastReply)
			}
		}
	}
	if sent != 2 || retry != 1 {
		t.Fatalf("%d sent, %d to retry:\n%s", sent, retry, attemptLog(as))
	}
}

// An attempt starts only while enough of the claim's lease is left; what a
// slow batch cannot reach is handed back unsent and uncounted, so that no
// other worker can send it at the same time.
func TestWorkerHandsBackWhatItCannotSendWithinTheLease(t *testing.T) {
	e := newOutboxEnv(t, 4, func(w *delivery.Worker, sk *sink) {
		w.Sender = newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
		w.Parallel = 1
		w.Lease = 4 * time.Second
		w.SendTimeout = 1200 * time.Millisecond // start by 4 - 1.2 - 0.4 = 2.4 s
	})
	e.sink.setHook(func(stage string, _ *gosmtp.Conn) error {
		if stage == "DATA" {
			time.Sleep(time.Second) // attempts start at 0, 1, 2 and 3 s
		}
		return nil
	})
	if n := e.deliverDue(); n != 4 {
		t.Fatalf("claimed %d", n)
	}
	ds, _ := e.deliveries()
	var states []string
	for _, d := range ds {
		states = append(states, fmt.Sprintf("%s/%d", d.State, d.Attempts))
	}
	if strings.Join(states, " ") != "sent/1 sent/1 sent/1 pending/0" {
		t.Fatalf("states %v, want the last handed back", states)
	}
	// It is due again at once, not after the lease.
	e.sink.setHook(nil)
	if n := e.deliverDue(); n != 1 {
		t.Fatalf("claimed %d, want the handed-back delivery", n)
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// Several workers (as on several nodes) drain one outbox together: every
// delivery is sent exactly once when nothing fails, on SQLite and on
// PostgreSQL (SKIP LOCKED claims), and every attempt is recorded.
func TestWorkersShareOneOutbox(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := store.SQLiteURL(filepath.Join(t.TempDir(), "dcvmail.db"))
			if db == "postgres" {
				url = pgtest.URL(t)
			}
			e := newOutboxEnvOn(t, url, 150, func(w *delivery.Worker, _ *sink) { w.Batch = 16 })
			var wg sync.WaitGroup
			for i := range 3 {
				base := e.worker
				w := &delivery.Worker{Store: base.Store, Sender: base.Sender, Clock: base.Clock, From: base.From,
					Owner: fmt.Sprintf("worker-%d", i), Batch: base.Batch, Log: base.Log}
				wg.Go(func() {
					for {
						n, err := w.DeliverDue(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						if n == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			ds, as := e.deliveries()
			if len(ds) != 150 || len(as) != 150 {
				t.Fatalf("%d deliveries, %d attempts", len(ds), len(as))
			}
			for _, d := range ds {
				if d.State != model.DeliverySent || d.Attempts != 1 {
					t.Fatalf("delivery %d: %s after %d attempts", d.ID, d.State, d.Attempts)
				}
			}
			seen := map[string]bool{}
			for _, m := range e.sink.messages() {
				id := messageID(m.Data)
				if seen[id] {
					t.Errorf("%s sent twice", id)
				}
				seen[id] = true
			}
			if len(seen) != 150 {
				t.Fatalf("%d messages at the server", len(seen))
			}
		})
	}
}

func messageID(raw []byte) string {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return m.Header.Get("Message-Id")
}

// issue 16 item 5: a sealed message that the worker's store cannot open
// (no message key, or another) is never sent empty: the delivery fails for
// good, with the reason as its reply, and nothing reaches the relay.
func TestWorkerNeverSendsAMessageItCannotOpen(t *testing.T) {
	dir := t.TempDir()
	url := store.SQLiteURL(filepath.Join(dir, "dcvmail.db"))
	e := newOutboxEnvOn(t, url, 0, nil) // its store has no message key
	keyed, err := server.Open(context.Background(), server.AppOptions{DatabaseURL: url, Clock: e.clock, PublicURL: "https://dcv.test",
		MailFrom: "dcv@dcvmail.test", MessageKeyFile: filepath.Join(dir, "message.key"), SendsMail: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	n, err := keyed.DCV.CreateOrder(context.Background(), dcv.NewOrder{Login: "alice", Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e.orders = []int64{n}
	if got := e.deliverDue(); got != 1 {
		t.Fatalf("claimed %d", got)
	}
	ds, as := e.deliveries()
	if len(ds) != 1 || ds[0].State != model.DeliveryFailed || len(as) != 1 || !strings.Contains(as[0].Reply, "sealed") {
		t.Fatalf("deliveries %+v, attempts:\n%s", ds, attemptLog(as))
	}
	if m := e.sink.messages(); len(m) != 0 {
		t.Fatalf("the relay received %d messages", len(m))
	}
}
