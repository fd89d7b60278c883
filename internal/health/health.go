// Package health answers /readyz: whether this dcvmail node can do its
// work, and if not, why. Liveness (/healthz) is elsewhere and stays simple;
// readiness is what a load balancer, an orchestrator and `dcvmail status`
// ask, and it must not say "ready" while mail silently goes nowhere.
//
// The checks (docs/operations.md):
//   - database: the database answers a ping;
//   - outbox: the oldest undelivered message is not older than
//     --ready-max-outbox-age (read from the shared outbox, so every node
//     sees the backlog of all);
//   - smtp: this node's deliveries have not all been failing: some failed
//     within --ready-smtp-window and none succeeded in it.
//
// Other parts may add checks with Add.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Defaults of the thresholds (the flags carry them too).
const (
	DefaultMaxOutboxAge = 10 * time.Minute
	DefaultSMTPWindow   = 5 * time.Minute
)

// Source is what the checks read of the store.
type Source interface {
	Ping(ctx context.Context) error
	OutboxBacklog(ctx context.Context) (store.Backlog, error)
}

// Config configures a Readiness.
type Config struct {
	Store        Source
	Clock        clock.Clock
	MaxOutboxAge time.Duration // 0: DefaultMaxOutboxAge
	SMTPWindow   time.Duration // 0: DefaultSMTPWindow
	// Relay names where mail goes, for the smtp check's detail: the SMTP
	// server, or "" for the built-in mailbox.
	Relay string
}

// Check is one check's verdict.
type Check struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the answer of /readyz.
type Report struct {
	Ready  bool             `json:"ready"`
	Checks map[string]Check `json:"checks"`
}

// Readiness runs the checks. It is safe for concurrent use.
type Readiness struct {
	cfg Config

	mu         sync.Mutex
	lastSent   time.Time // this node's last delivery that went out
	lastFailed time.Time // this node's last attempt that did not
	extra      map[string]func(context.Context) Check
}

// New returns a Readiness.
func New(cfg Config) *Readiness {
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.MaxOutboxAge <= 0 {
		cfg.MaxOutboxAge = DefaultMaxOutboxAge
	}
	if cfg.SMTPWindow <= 0 {
		cfg.SMTPWindow = DefaultSMTPWindow
	}
	return &Readiness{cfg: cfg, extra: map[string]func(context.Context) Check{}}
}

// Add adds a check under name (for example one that says test controls are
// on). A check that is not OK makes the node not ready.
func (r *Readiness) Add(name string, fn func(context.Context) Check) {
	r.mu.Lock()
	r.extra[name] = fn
	r.mu.Unlock()
}

// Observe records the outcome of one delivery attempt of this node's
// outbox worker: "sent", or anything else for a failure (a retry or a
// given-up delivery).
func (r *Readiness) Observe(outcome model.Outcome) {
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	if outcome == model.OutcomeSent {
		r.lastSent = now
	} else {
		r.lastFailed = now
	}
	r.mu.Unlock()
}

// Check runs every check.
func (r *Readiness) Check(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := map[string]Check{}
	start := time.Now()
	if err := r.cfg.Store.Ping(ctx); err != nil {
		checks["database"] = Check{Detail: "not answering: " + err.Error()}
		checks["outbox"] = Check{Detail: "unknown: the database is not answering"}
	} else {
		checks["database"] = Check{OK: true, Detail: fmt.Sprintf("answered in %s", time.Since(start).Round(10*time.Microsecond))}
		checks["outbox"] = r.outbox(ctx)
	}
	checks["smtp"] = r.smtp()
	r.mu.Lock()
	extra := make(map[string]func(context.Context) Check, len(r.extra))
	for k, v := range r.extra {
		extra[k] = v
	}
	r.mu.Unlock()
	for name, fn := range extra {
		checks[name] = fn(ctx)
	}
	rep := Report{Ready: true, Checks: checks}
	for _, c := range checks {
		rep.Ready = rep.Ready && c.OK
	}
	return rep
}

func (r *Readiness) outbox(ctx context.Context) Check {
	b, err := r.cfg.Store.OutboxBacklog(ctx)
	if err != nil {
		return Check{Detail: "reading the outbox failed: " + err.Error()}
	}
	if b.Pending == 0 {
		return Check{OK: true, Detail: "no message waiting"}
	}
	age := max(0, r.cfg.Clock.Now().Sub(b.Oldest)).Round(time.Second)
	if age > r.cfg.MaxOutboxAge {
		return Check{Detail: fmt.Sprintf("%d messages undelivered, the oldest queued %s ago, longer than --ready-max-outbox-age %s",
			b.Pending, age, r.cfg.MaxOutboxAge)}
	}
	return Check{OK: true, Detail: fmt.Sprintf("%d messages waiting, the oldest queued %s ago", b.Pending, age)}
}

func (r *Readiness) smtp() Check {
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	sent, failed := r.lastSent, r.lastFailed
	r.mu.Unlock()
	where := "the built-in mailbox"
	if r.cfg.Relay != "" {
		where = r.cfg.Relay
	}
	within := func(t time.Time) bool { return !t.IsZero() && now.Sub(t) <= r.cfg.SMTPWindow }
	ago := func(t time.Time) string { return max(0, now.Sub(t)).Round(time.Second).String() + " ago" }
	switch {
	case within(failed) && !within(sent):
		last := "never"
		if !sent.IsZero() {
			last = ago(sent)
		}
		return Check{Detail: fmt.Sprintf("deliveries to %s are failing (last failure %s) and none succeeded within --ready-smtp-window %s (last success: %s); see the outbox log lines",
			where, ago(failed), r.cfg.SMTPWindow, last)}
	case sent.IsZero() && failed.IsZero():
		return Check{OK: true, Detail: fmt.Sprintf("delivering to %s; nothing attempted yet", where)}
	case sent.IsZero():
		return Check{OK: true, Detail: fmt.Sprintf("delivering to %s; no failure within %s", where, r.cfg.SMTPWindow)}
	default:
		return Check{OK: true, Detail: fmt.Sprintf("delivering to %s; last sent %s", where, ago(sent))}
	}
}

// ServeHTTP answers /readyz: 200 when ready, else 503, with the Report as
// JSON either way.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.Check(req.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// Collector exposes the checks as metrics: dcvmail_ready and
// dcvmail_ready_check{check}, 1 for OK and 0 for not.
func (r *Readiness) Collector() prometheus.Collector { return collector{r} }

var (
	descReady = prometheus.NewDesc("dcvmail_ready", "1 when /readyz answers 200, else 0.", nil, nil)
	descCheck = prometheus.NewDesc("dcvmail_ready_check", "1 when the readiness check passes, else 0.", []string{"check"}, nil)
)

type collector struct{ r *Readiness }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- descReady; ch <- descCheck }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	rep := c.r.Check(context.Background())
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(rep.Ready))
	names := make([]string, 0, len(rep.Checks))
	for n := range rep.Checks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ch <- prometheus.MustNewConstMetric(descCheck, prometheus.GaugeValue, b2f(rep.Checks[n].OK), n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
