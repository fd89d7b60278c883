package server

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/health"
	"github.com/dcvmail/dcvmail/internal/metrics"
	"github.com/dcvmail/dcvmail/internal/model"
)

// operations is what operators watch: the metrics and the readiness
// checks, both fed by the hooks of the API, the page, the lockout and the
// outbox worker, and both served on the admin listener.
type operations struct {
	metrics *metrics.Metrics
	ready   *health.Readiness
}

func newOperations(cfg config.Serve, app *App, certs *certHolder, clk clock.Clock, log *slog.Logger) *operations {
	o := &operations{
		metrics: metrics.New(metrics.Config{Store: app.Store, Clock: clk, Log: log}),
		ready: health.New(health.Config{
			Store:        app.Store,
			Clock:        clk,
			MaxOutboxAge: cfg.Ops.ReadyMaxOutboxAge,
			SMTPWindow:   cfg.Ops.ReadySMTPWindow,
			Relay:        relayName(cfg.SMTP),
		}),
	}
	expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dcvmail_tls_certificate_expiry_timestamp_seconds",
		Help: "When the HTTPS listener's certificate in force expires (Unix time); it changes on a reload (SIGHUP).",
	}, func() float64 { return float64(certs.cur.Load().Leaf.NotAfter.Unix()) })
	for _, c := range []prometheus.Collector{o.ready.Collector(), expiry} {
		if err := o.metrics.Register(c); err != nil {
			panic(err) // a name clash between fixed sets of families
		}
	}
	return o
}

// delivered hears of each recorded delivery attempt (delivery.Worker.Observe).
func (o *operations) delivered(outcome model.Outcome) {
	o.metrics.Delivery(outcome)
	o.ready.Observe(outcome)
}

// mount adds /readyz and /metrics to the admin listener's mux.
func (o *operations) mount(mux *http.ServeMux) {
	mux.Handle("GET /readyz", o.ready)
	mux.Handle("GET /metrics", o.metrics.Handler())
}

// relayName is the SMTP server of --smtp without its credentials, for the
// readiness detail; "" for the built-in mailbox.
func relayName(smtpURL string) string {
	if smtpURL == "" {
		return ""
	}
	u, err := url.Parse(smtpURL)
	if err != nil {
		return "the SMTP relay"
	}
	return u.Scheme + "://" + u.Host
}
