// Package metrics is dcvmail's Prometheus exposition: what the parts count
// (API calls, confirmation pages, deliveries, lockouts) arrives through
// small hooks that the assembly wires to the methods here; what the
// database knows (the outbox backlog, the connection pool, SQLite's group
// commit) is read when Prometheus scrapes. Every family is named
// dcvmail_..., except the standard go_, process_ and go_sql_ families of
// the client library's own collectors. docs/operations.md lists them all
// with the alerts built on them.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/connlimit"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Delivery outcomes, as the outbox records them.
var deliveryOutcomes = []model.Outcome{model.OutcomeSent, model.OutcomeRetry, model.OutcomeFailed}

// Page states of the confirmation page (internal/web's view.State).
var pageStates = []string{"form", "confirmed", "already", "invalid", "locked", "missing", "failed", "insecure", "busy"}

// latencyBuckets span a cached login's sub-millisecond answer to a slow
// database's seconds; the default buckets start at 5 ms, above most
// answers here.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds the registry and the families that parts count into.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	apiRequests  *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	pages        *prometheus.CounterVec
	deliveries   *prometheus.CounterVec
	lockouts     *prometheus.CounterVec
	loginRefused prometheus.Counter
	codeRefused  prometheus.Counter
	backlogged   prometheus.Counter
	connLimited  *prometheus.CounterVec
	signBusy     prometheus.Counter
}

// Config says where the scraped values come from.
type Config struct {
	Store *store.Store // the outbox backlog, the pool and the group commit
	Clock clock.Clock  // the service's clock, which the outbox's times are in
	Log   *slog.Logger
}

// New builds the registry with every family.
func New(cfg Config) *Metrics {
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: cfg.Log}
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcvmail_api_requests_total",
		Help: "API requests answered, by endpoint and errorCode (0 is success).",
	}, []string{"endpoint", "error_code"})
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dcvmail_api_request_duration_seconds",
		Help:    "Time from an API request's arrival to its answer, by endpoint.",
		Buckets: latencyBuckets,
	}, []string{"endpoint"})
	m.pages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcvmail_confirmation_page_requests_total",
		Help: "Confirmation page answers by outcome (form, confirmed, already, invalid, locked, missing, failed, insecure, busy) and, for invalid, reason.",
	}, []string{"outcome", "reason"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcvmail_outbox_deliveries_total",
		Help: "Delivery attempts by outcome: sent, retry (a temporary failure, tried again later) or failed (given up).",
	}, []string{"outcome"})
	m.lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcvmail_login_lockouts_total",
		Help: "Locks set after too many failed logins, by what was locked: a login name or a source address.",
	}, []string{"kind"})
	m.loginRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dcvmail_login_locked_refusals_total",
		Help: "Login attempts refused because the login name or the source address was locked.",
	})
	m.codeRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dcvmail_code_attempts_refused_total",
		Help: "Codes entered on the confirmation page that were not judged because the order's attempts were used up.",
	})
	m.backlogged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dcvmail_write_backlog_refusals_total",
		Help: "API calls that write and confirmation page POSTs refused (-14, or the page's busy state) because the oldest write waiting had waited longer than --write-backlog-limit.",
	})
	m.connLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dcvmail_connections_limited_total",
		Help: "Connections the public listeners closed to stay within --max-connections, --max-connections-per-source and --connection-rate-per-source, by reason: source (its source held its share as it arrived), rate (its source opened connections faster than its rate), total (the total was reached and no source held more than the newcomer's), evicted (a connection not serving a request, given up by the source holding the most for a newcomer).",
	}, []string{"reason"})
	for _, r := range []string{connlimit.ReasonSource, connlimit.ReasonRate, connlimit.ReasonTotal, connlimit.ReasonEvicted} {
		m.connLimited.WithLabelValues(r)
	}
	m.signBusy = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dcvmail_ca_signing_refused_total",
		Help: "Requests for the test CA's CRLs and OCSP answers refused (HTTP 503) because their source was over its rate of costly work or had as many waiting as one source may (internal/costly).",
	})
	for _, o := range deliveryOutcomes {
		m.deliveries.WithLabelValues(string(o))
	}
	for _, s := range pageStates {
		if s != "invalid" {
			m.pages.WithLabelValues(s, "")
		}
	}
	for _, k := range []string{"login", "source"} {
		m.lockouts.WithLabelValues(k)
	}
	m.reg.MustRegister(m.apiRequests, m.apiDuration, m.pages, m.deliveries, m.lockouts, m.loginRefused, m.codeRefused, m.backlogged, m.connLimited, m.signBusy,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	if cfg.Store != nil {
		m.reg.MustRegister(
			collectors.NewDBStatsCollector(cfg.Store.DB(), cfg.Store.Dialect()),
			&storeCollector{st: cfg.Store, clock: cfg.Clock},
		)
	}
	return m
}

// Register adds a collector of another part (readiness, for one).
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Handler serves the exposition. A collector that fails (the database did
// not answer) is left out of that scrape and logged; the rest is still
// served, and dcvmail_database_up says what happened.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	})
}

// APIRequest counts one answered API call. endpoint is the call's name
// ("ResendDCVEmail"), a small fixed set.
func (m *Metrics) APIRequest(endpoint string, errorCode int, elapsed time.Duration) {
	m.apiRequests.WithLabelValues(endpoint, strconv.Itoa(errorCode)).Inc()
	m.apiDuration.WithLabelValues(endpoint).Observe(elapsed.Seconds())
}

// Page counts one confirmation page answer; a "locked" answer is also a
// refused code attempt.
func (m *Metrics) Page(state, reason string) {
	m.pages.WithLabelValues(state, reason).Inc()
	if state == "locked" {
		m.codeRefused.Inc()
	}
}

// Delivery counts one recorded delivery attempt by its outcome.
func (m *Metrics) Delivery(outcome model.Outcome) {
	m.deliveries.WithLabelValues(string(outcome)).Inc()
}

// Locked counts a lock set on a login name ("login") or a source ("source").
func (m *Metrics) Locked(kind string) { m.lockouts.WithLabelValues(kind).Inc() }

// Refused counts a login attempt refused because of a lock.
func (m *Metrics) Refused() { m.loginRefused.Inc() }

// Backlogged counts a request refused because writes were backlogged
// (admission.Gate).
func (m *Metrics) Backlogged() { m.backlogged.Inc() }

// ConnectionLimited counts a connection closed by the listeners' limiter
// (connlimit), by its reason.
func (m *Metrics) ConnectionLimited(reason string) { m.connLimited.WithLabelValues(reason).Inc() }

// SigningRefused counts a request for a signed CRL or OCSP answer refused
// as costly work (internal/costly): its source was over its rate, or had
// as many waiting as one may.
func (m *Metrics) SigningRefused() { m.signBusy.Inc() }

// ConnectionsOpen exposes open(), the connections open on the public
// listeners now, as dcvmail_connections_open.
func (m *Metrics) ConnectionsOpen(open func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dcvmail_connections_open",
		Help: "Connections open on the public listeners (HTTPS and plain HTTP), which --max-connections bounds.",
	}, func() float64 { return float64(open()) }))
}

// storeCollector reads the outbox backlog and the group-commit counters at
// each scrape.
type storeCollector struct {
	st    *store.Store
	clock clock.Clock
}

var (
	descUp = prometheus.NewDesc("dcvmail_database_up",
		"1 when the database answered this scrape's queries, else 0.", nil, nil)
	descPending = prometheus.NewDesc("dcvmail_outbox_pending_messages",
		"Deliveries in the outbox neither sent nor given up (on every node).", nil, nil)
	descOldest = prometheus.NewDesc("dcvmail_outbox_oldest_pending_age_seconds",
		"Age of the oldest undelivered message in the outbox; 0 when none is pending.", nil, nil)
	descCommits = prometheus.NewDesc("dcvmail_store_group_commits_total",
		"SQLite: shared transactions committed by the group commit.", nil, nil)
	descGrouped = prometheus.NewDesc("dcvmail_store_group_commit_transactions_total",
		"SQLite: transactions that went into group commits; divided by dcvmail_store_group_commits_total, the mean group size.", nil, nil)
	descLeftOut = prometheus.NewDesc("dcvmail_store_group_commit_left_out_total",
		"SQLite: transactions rolled back alone inside a group (their own failure) or dropped before running (caller gone).", nil, nil)
	descFailed = prometheus.NewDesc("dcvmail_store_group_commit_failures_total",
		"SQLite: group commits that failed as a whole (BEGIN, savepoint or COMMIT), failing all their transactions.", nil, nil)
	descWriteBacklog = prometheus.NewDesc("dcvmail_store_write_backlog_seconds",
		"How long the oldest write now waiting to start has waited (SQLite: for the writer; PostgreSQL: for a pool connection or the offers' upsert); 0 when none waits.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descPending, descOldest, descCommits, descGrouped, descLeftOut, descFailed, descWriteBacklog} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := c.st.OutboxBacklog(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		ch <- prometheus.NewInvalidMetric(descPending, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(b.Pending))
		age := 0.0
		if !b.Oldest.IsZero() {
			age = max(0, c.clock.Now().Sub(b.Oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	}
	ch <- prometheus.MustNewConstMetric(descWriteBacklog, prometheus.GaugeValue, c.st.WriteBacklog().Seconds())
	if g, ok := c.st.GroupCommitStats(); ok {
		ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(g.Commits))
		ch <- prometheus.MustNewConstMetric(descGrouped, prometheus.CounterValue, float64(g.Transactions))
		ch <- prometheus.MustNewConstMetric(descLeftOut, prometheus.CounterValue, float64(g.RolledBack))
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(g.Failed))
	}
}
