package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/admission"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/connlimit"
	"github.com/dcvmail/dcvmail/internal/metrics"
	"github.com/dcvmail/dcvmail/internal/store"
)

// tlsCipherSuites are the TLS 1.2 suites the server accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher only; no CBC, no RSA key
// exchange, no 3DES or RC4. TLS 1.3 suites are not configurable and are
// all AEAD.
var tlsCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsConfig is the HTTPS listener's TLS: 1.2 at least, modern suites only.
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tlsCipherSuites,
		Certificates: []tls.Certificate{cert},
	}
}

// newLockout builds the failed-login lockout from the --lockout-* flags;
// zero fields take the defaults.
func newLockout(ctx context.Context, st *store.Store, l config.Limits, log *slog.Logger) (*accounts.Lockout, error) {
	lo, err := accounts.NewLockout(ctx, st, accounts.LockoutPolicy{
		LoginFailures:       l.LoginFailures,
		SourceFailures:      l.SourceFailures,
		GlobalLoginFailures: l.GlobalLoginFailures,
		KnownSourceAge:      l.KnownSourceAge,
		Window:              l.LockoutWindow,
		Duration:            l.LockoutDuration,
	}, log)
	if err != nil {
		return nil, err
	}
	p := lo.Policy()
	log.Info("failed logins are limited", "per_login_and_source", p.LoginFailures, "per_source", p.SourceFailures,
		"per_login", p.GlobalLoginFailures, "known_source_age", p.KnownSourceAge.String(),
		"window", p.Window.String(), "lock", p.Duration.String())
	return lo, nil
}

// requestLimit is the per-account request limit of --request-rate and
// --request-burst: zero takes the default, a negative rate turns it off.
func requestLimit(l config.Limits, clk clock.Clock, log *slog.Logger) api.RequestLimit {
	r := api.RequestLimit{Rate: l.RequestRate, Burst: l.RequestBurst, Clock: clk}
	if r.Rate == 0 {
		r.Rate = api.DefaultRequestRate
	}
	if r.Burst <= 0 {
		r.Burst = api.DefaultRequestBurst
	}
	if r.Rate < 0 {
		log.Warn("--request-rate is negative: API requests per account are not limited")
		r.Rate = 0
	} else {
		log.Info("API requests are limited per account on this node", "rate", r.Rate, "burst", r.Burst)
	}
	return r
}

// admissionGate refuses the calls that write while the store's writes are
// backlogged (--write-backlog-limit); 0 turns it off. Unlike the other
// limits, zero is not the default here: "--write-backlog-limit 0" reads as
// "never", and the flag carries the default.
func admissionGate(l config.Limits, st *store.Store, refused func(), log *slog.Logger) *admission.Gate {
	limit := l.WriteBacklogLimit
	if limit <= 0 {
		log.Warn("--write-backlog-limit is 0: writes queue however long their backlog")
		return nil
	}
	log.Info("calls that write are refused while writes are backlogged", "limit", limit)
	return admission.New(admission.Config{Backlog: st.WriteBacklog, Limit: limit, Log: log, Refused: refused})
}

// connLimiter bounds the connections the public listeners hold open and
// how fast one source opens them (--max-connections,
// --max-connections-per-source, --connection-rate-per-source: 0 takes the
// default, a negative value none). Trusted proxies carry many clients on
// their connections, so only the total bounds theirs; so does this
// machine's own address (localOnly), from which come a local proxy, the
// integrator's test suite against serve --demo (a client that opens a
// connection per call exceeds the rate in seconds) and dcvmail bench, and
// never a stranger.
func connLimiter(l config.Limits, proxies []netip.Prefix, m *metrics.Metrics, log *slog.Logger) *connlimit.Limiter {
	total, per, rate := l.MaxConnections, l.MaxConnectionsPerSource, l.ConnectionRatePerSource
	if total == 0 {
		total = connlimit.DefaultTotal()
	}
	if per == 0 {
		per = connlimit.DefaultPerSource
	}
	if rate == 0 {
		rate = connlimit.DefaultRate
	}
	lim := connlimit.New(connlimit.Config{Total: total, PerSource: per, Rate: rate, Exempt: slices.Concat(proxies, localOnly), Log: log,
		Refused: m.ConnectionLimited})
	m.ConnectionsOpen(lim.Open)
	bound := func(n float64) any {
		if n <= 0 {
			return "none"
		}
		return n
	}
	log.Info("open connections are limited", "max_connections", bound(float64(total)), "max_per_source", bound(float64(per)),
		"new_per_second_per_source", bound(rate))
	return lim
}

// localOnly are the addresses of this machine's own clients: 127.0.0.1
// and ::1. The rest of 127.0.0.0/8 is not among them, so that tests can
// play strangers from 127.0.0.2 and beyond.
var localOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// withReadTimeouts replaces the listeners' ReadHeaderTimeout and
// ReadTimeout, so that tests of slow clients need not wait for the real
// ones.
func withReadTimeouts(header, read time.Duration) Option {
	return func(o *serverOptions) { o.readHeaderTimeout, o.readTimeout = header, read }
}

// applyTestTimeouts sets what withReadTimeouts asked for.
func (s *Server) applyTestTimeouts(o serverOptions) {
	for _, srv := range []*http.Server{s.https, s.plain, s.admin} {
		if srv == nil {
			continue
		}
		if o.readHeaderTimeout > 0 {
			srv.ReadHeaderTimeout = o.readHeaderTimeout
		}
		if o.readTimeout > 0 {
			srv.ReadTimeout = o.readTimeout
		}
	}
}
