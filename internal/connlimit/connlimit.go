// Package connlimit bounds the connections the public listeners hold open,
// as each is accepted and before its TLS handshake or first request is
// read, so that no client can take the file descriptors, memory and
// handshakes that every other client needs (SECURITY.md, "Floods").
// Without it, a stranger who opened connections and sent nothing, or held
// them idle, took every descriptor of the process: accept failed with "too
// many open files" and every other client waited (BENCHMARKS.md,
// "Fourteenth round").
//
//   - One source (an IPv4 address, or an IPv6 /64, as the lockout counts
//     them) holds at most PerSource connections, and opens at most Rate a
//     second after a burst of ten seconds' worth; more are closed as they
//     arrive. Each new connection costs the server a TLS handshake (about
//     380 µs of CPU here, eight times what a request on an open connection
//     costs client and server together), so a source that reconnects as
//     fast as it can would otherwise take the CPU from everyone's
//     requests. Sources in Exempt (trusted proxies, which carry many
//     clients on their connections, and this machine's own address) are
//     bounded by the total alone.
//   - All sources together hold at most Total. A connection that arrives
//     at the total takes the place of one that is not serving a request
//     (not yet sent one, or idle between two) from the source that holds
//     the most, provided that source holds more than the newcomer's would;
//     otherwise the newcomer is closed. So connections hoarded by a few
//     sources are given back to the others, and an honest client that
//     holds one or two keeps its place.
//
// A refused connection is closed at once, before any TLS: to its client it
// looks like a connection reset by the server.
package connlimit

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/origin"
)

// DefaultPerSource is serve's --max-connections-per-source: a browser
// opens six connections to a host, and a reseller's automation a pool of
// some tens.
const DefaultPerSource = 256

// DefaultRate is serve's --connection-rate-per-source: twice the API's
// per-account request rate (api.DefaultRequestRate), so that a client
// that opens a connection for every call is never held back by it.
const DefaultRate = 100.0

// burstSeconds is the burst of the per-source rate, in seconds' worth.
const burstSeconds = 10

// Reasons a connection is closed by the limiter, as Config.Refused hears
// them and the metrics label them.
const (
	ReasonSource  = "source"  // its source held PerSource connections already
	ReasonRate    = "rate"    // its source opened connections faster than Rate
	ReasonTotal   = "total"   // the total was reached, and no source held more than the newcomer's
	ReasonEvicted = "evicted" // an open connection given up for a newcomer at the total
)

// logEvery is how often, at most, a run of refusals is logged.
const logEvery = 10 * time.Second

// sweepEvery is how often sources without connections are looked at for
// forgetting, and sweepAbove the number of sources under which they are
// looked at no sooner (sweepLocked).
const (
	sweepEvery = 10 * time.Second
	sweepAbove = 4096
)

// Config is what a Limiter bounds.
type Config struct {
	// Total bounds the connections open on all the limiter's listeners
	// together; 0 or less: no bound.
	Total int
	// PerSource bounds the connections of one source; 0 or less: no bound.
	PerSource int
	// Rate bounds the connections one source opens a second, after a
	// burst of ten seconds' worth; 0 or less: no bound.
	Rate float64
	// Exempt are the sources the per-source bounds (PerSource, Rate)
	// leave alone: trusted proxies, and this machine's own address.
	Exempt []netip.Prefix
	Log    *slog.Logger
	// Refused, when set, hears of every connection the limiter closes,
	// with its reason (ReasonSource, ReasonRate, ReasonTotal or
	// ReasonEvicted).
	Refused func(reason string)

	clock clock.Clock // the buckets' and the log's clock (tests); the system's when nil
}

// Limiter counts the open connections of the listeners it wraps. Its
// methods are safe for concurrent use.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	open    int
	sources map[string]*source // with open connections, or a bucket not yet full
	swept   time.Time          // when sources were last swept of the others
	kept    int                // how many sources that sweep kept
	// What was refused since the last log line, and when that was.
	unlogged map[string]int
	lastLog  time.Time
	lastFrom string
}

// source is one source's open connections, and its bucket of new ones
// (nil without a rate, or for an exempt source).
type source struct {
	key    string
	conns  map[*conn]struct{}
	bucket *rate.Limiter
}

// New returns a Limiter. With neither bound set it still counts.
func New(cfg Config) *Limiter {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Refused == nil {
		cfg.Refused = func(string) {}
	}
	if cfg.clock == nil {
		cfg.clock = clock.System
	}
	return &Limiter{cfg: cfg, sources: map[string]*source{}, unlogged: map[string]int{}}
}

// Listen wraps ln: the connections it accepts count against the limiter,
// and those over a bound are closed before Accept returns.
func (l *Limiter) Listen(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

// Open is the number of connections open now.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// ConnState is the http.Server hook that tells the limiter which of its
// connections are serving a request (they are never taken back). Set it
// as the ConnState of every server whose listener the limiter wraps.
func (l *Limiter) ConnState(nc net.Conn, st http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch st {
	case http.StateActive:
		c.active.Store(true)
	case http.StateIdle:
		c.active.Store(false)
	}
}

type listener struct {
	net.Listener
	l *Limiter
}

// Accept returns the next connection within the bounds, closing those
// over them.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := ln.l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// conn is an admitted connection; closing it gives its place back.
type conn struct {
	net.Conn
	l      *Limiter
	src    *source
	active atomic.Bool // serving a request (http.StateActive)
	once   sync.Once   // the place is given back once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.release(c) })
	return c.Conn.Close()
}

// sourceOf is the source a remote address counts as, and whether it is
// exempt from the per-source bounds.
func (l *Limiter) sourceOf(a net.Addr) (string, bool) {
	var addr netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		addr = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		addr = ap.Addr()
	}
	key, ok := origin.Source(addr)
	if !ok {
		return a.String(), false
	}
	return key, origin.Proxies(l.cfg.Exempt).Trusted(addr.Unmap())
}

// admit counts nc in, taking back another source's connection at the
// total, or closes it and returns nil.
func (l *Limiter) admit(nc net.Conn) net.Conn {
	key, exempt := l.sourceOf(nc.RemoteAddr())
	now := l.cfg.clock.Now()
	l.mu.Lock()
	l.sweepLocked(now)
	s := l.sources[key]
	if s == nil {
		s = &source{key: key, conns: map[*conn]struct{}{}}
		if !exempt && l.cfg.Rate > 0 {
			s.bucket = rate.NewLimiter(rate.Limit(l.cfg.Rate), max(1, int(l.cfg.Rate*burstSeconds)))
		}
		l.sources[key] = s
	}
	held := len(s.conns)
	switch {
	case !exempt && l.cfg.PerSource > 0 && held >= l.cfg.PerSource:
		return l.refuseLocked(nc, ReasonSource, key)
	case s.bucket != nil && !s.bucket.AllowN(now, 1):
		return l.refuseLocked(nc, ReasonRate, key)
	}
	var victim *conn
	if l.cfg.Total > 0 && l.open >= l.cfg.Total {
		if victim = l.victimLocked(held + 1); victim == nil {
			return l.refuseLocked(nc, ReasonTotal, key)
		}
		// Its place is given back here, under the lock, so that the
		// newcomer's is there when the lock is released.
		victim.once.Do(func() { l.releaseLocked(victim) })
		l.refusedLocked(ReasonEvicted, victim.src.key)
	}
	c := &conn{Conn: nc, l: l, src: s}
	s.conns[c] = struct{}{}
	l.open++
	l.mu.Unlock()
	if victim != nil {
		victim.Conn.Close()
	}
	return c
}

// refuseLocked closes nc for reason, after releasing the lock.
func (l *Limiter) refuseLocked(nc net.Conn, reason, key string) net.Conn {
	l.refusedLocked(reason, key)
	l.mu.Unlock()
	nc.Close()
	return nil
}

// sweepLocked forgets the sources that hold no connection and whose
// bucket is full again: they are as if new. A source is kept while its
// bucket refills, so that one that closes each connection before opening
// the next is still held to its rate. It sweeps every sweepEvery, and
// sooner when the sources have doubled since the last sweep (and number
// over sweepAbove), so that a flood from ever new addresses (an IPv6
// attacker has many /64s) cannot grow the map for ten seconds at the
// speed of accept; the sweeps' cost then stays in proportion to the
// sources they find.
func (l *Limiter) sweepLocked(now time.Time) {
	if now.Sub(l.swept) < sweepEvery && len(l.sources) <= max(2*l.kept, sweepAbove) {
		return
	}
	l.swept = now
	for key, s := range l.sources {
		if len(s.conns) == 0 && (s.bucket == nil || s.bucket.TokensAt(now) >= float64(s.bucket.Burst())) {
			delete(l.sources, key)
		}
	}
	l.kept = len(l.sources)
}

// victimLocked picks, from the source holding the most connections, and
// more than after (what the newcomer's source will hold), a connection
// that is not serving a request; nil when there is none.
func (l *Limiter) victimLocked(after int) *conn {
	var best *conn
	most := after
	for _, s := range l.sources {
		if len(s.conns) <= most {
			continue
		}
		for c := range s.conns {
			if !c.active.Load() {
				best, most = c, len(s.conns)
				break
			}
		}
	}
	return best
}

func (l *Limiter) release(c *conn) {
	l.mu.Lock()
	l.releaseLocked(c)
	l.mu.Unlock()
}

func (l *Limiter) releaseLocked(c *conn) {
	delete(c.src.conns, c)
	if len(c.src.conns) == 0 && c.src.bucket == nil {
		delete(l.sources, c.src.key)
	}
	l.open--
}

// refusedLocked counts a refusal for the metrics and the log. A flood
// would flood the log, so a run of refusals is logged when it starts and
// then at most once every logEvery, with what it refused meanwhile.
func (l *Limiter) refusedLocked(reason, from string) {
	l.cfg.Refused(reason)
	l.unlogged[reason]++
	l.lastFrom = from
	now := l.cfg.clock.Now()
	if now.Sub(l.lastLog) < logEvery {
		return
	}
	l.cfg.Log.Warn("connections closed as they arrived: too many open",
		"from_source", l.unlogged[ReasonSource], "too_fast", l.unlogged[ReasonRate], "at_total", l.unlogged[ReasonTotal],
		"taken_back", l.unlogged[ReasonEvicted], "last_source", l.lastFrom, "open", l.open,
		"max_connections", l.cfg.Total, "max_per_source", l.cfg.PerSource, "rate_per_source", l.cfg.Rate)
	l.lastLog = now
	clear(l.unlogged)
}
