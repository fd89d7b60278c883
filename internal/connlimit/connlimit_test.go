package connlimit

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/loopback"
)

// rig is a loopback listener behind a Limiter; its accepted connections
// arrive on accepted. Clients dial from other loopback addresses
// (127.0.0.2, ...), which Linux routes to lo, so each is a source.
type rig struct {
	t        *testing.T
	lim      *Limiter
	addr     string
	accepted chan net.Conn

	mu      sync.Mutex
	reasons map[string]int
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, accepted: make(chan net.Conn, 64), reasons: map[string]int{}}
	cfg.Refused = func(reason string) {
		r.mu.Lock()
		r.reasons[reason]++
		r.mu.Unlock()
	}
	r.lim = New(cfg)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := r.lim.Listen(inner)
	r.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return r
}

// client is one client connection and the server's side of it (nil when
// the limiter closed it on arrival).
type client struct {
	net.Conn
	server net.Conn
}

// dial connects from the loopback address from and waits until the
// server either accepts the connection or closes it.
func (r *rig) dial(from string) *client {
	r.t.Helper()
	d := net.Dialer{LocalAddr: loopback.Source(r.t, int(net.ParseIP(from).To4()[3])), Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("dial from %s: %v", from, err)
	}
	r.t.Cleanup(func() { c.Close() })
	closed, read := make(chan struct{}), make(chan struct{})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	go func() {
		defer close(read)
		if isClosed(c.Read(make([]byte, 1))) {
			close(closed)
		}
	}()
	select {
	case s := <-r.accepted:
		if got, want := s.RemoteAddr().String(), c.LocalAddr().String(); got != want {
			r.t.Fatalf("accepted %s, dialled from %s", got, want)
		}
		c.SetReadDeadline(time.Now()) // ends the read above
		<-read
		return &client{Conn: c, server: s}
	case <-closed:
		return &client{Conn: c}
	case <-time.After(10 * time.Second):
		r.t.Fatalf("the connection from %s was neither accepted nor closed", from)
		return nil
	}
}

// isClosed tells whether a Read's result says the peer closed.
func isClosed(_ int, err error) bool {
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (r *rig) admitted(c *client) {
	r.t.Helper()
	if c.server == nil {
		r.t.Fatalf("connection from %s closed, want it admitted", c.LocalAddr())
	}
}

func (r *rig) closedOnArrival(c *client) {
	r.t.Helper()
	if c.server != nil {
		r.t.Fatalf("connection from %s admitted, want it closed", c.LocalAddr())
	}
}

// takenBack reports whether the server closed c after admitting it.
func takenBack(c *client) bool {
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	return isClosed(c.Read(make([]byte, 1)))
}

func (r *rig) want(reason string, n int) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reasons[reason] != n {
		r.t.Errorf("%s refusals: %d, want %d (all: %v)", reason, r.reasons[reason], n, r.reasons)
	}
}

func TestOneSourceHoldsAtMostItsShare(t *testing.T) {
	t.Parallel()
	r := newRig(t, Config{PerSource: 2})
	a1, a2 := r.dial("127.0.0.2"), r.dial("127.0.0.2")
	r.admitted(a1)
	r.admitted(a2)
	r.closedOnArrival(r.dial("127.0.0.2"))
	r.admitted(r.dial("127.0.0.3")) // another source is not held back
	r.want(ReasonSource, 1)
	if n := r.lim.Open(); n != 3 {
		t.Errorf("open: %d, want 3", n)
	}

	// A closed connection gives its place back, whichever side closes.
	a1.server.Close()
	r.admitted(r.dial("127.0.0.2"))
	a2.Close()
	if _, err := a2.server.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server side of a closed client: %v", err)
	}
	a2.server.Close()
	r.admitted(r.dial("127.0.0.2"))
	r.closedOnArrival(r.dial("127.0.0.2"))
	r.want(ReasonSource, 2)
}

func TestTotalIsTakenBackFromTheSourceHoldingMost(t *testing.T) {
	t.Parallel()
	r := newRig(t, Config{Total: 4})
	hoard := []*client{r.dial("127.0.0.2"), r.dial("127.0.0.2"), r.dial("127.0.0.2")}
	honest := r.dial("127.0.0.3")
	for _, c := range append(hoard, honest) {
		r.admitted(c)
	}

	// A newcomer at the total takes one of the hoarder's places.
	newcomer := r.dial("127.0.0.4")
	r.admitted(newcomer)
	r.want(ReasonEvicted, 1)
	var kept []*client
	for _, c := range hoard {
		if !takenBack(c) {
			kept = append(kept, c)
		}
	}
	if len(kept) != 2 {
		t.Fatalf("the hoarder kept %d of 3 connections, want 2", len(kept))
	}
	if takenBack(honest) || takenBack(newcomer) {
		t.Fatal("a source holding one connection lost it")
	}

	// The hoarder cannot take the others' places back: it holds the most.
	r.closedOnArrival(r.dial("127.0.0.2"))
	r.want(ReasonTotal, 1)

	// Connections serving a request are never taken back.
	for _, c := range kept {
		r.lim.ConnState(c.server, http.StateActive)
	}
	r.closedOnArrival(r.dial("127.0.0.5"))
	r.want(ReasonTotal, 2)
	r.lim.ConnState(kept[0].server, http.StateIdle)
	r.admitted(r.dial("127.0.0.5"))
	if !takenBack(kept[0]) || takenBack(kept[1]) {
		t.Fatal("want the idle connection taken back, the active one kept")
	}
	r.want(ReasonEvicted, 2)
	if n := r.lim.Open(); n != 4 {
		t.Errorf("open: %d, want 4", n)
	}
}

func TestExemptSourcesAreBoundedByTheTotalAlone(t *testing.T) {
	t.Parallel()
	r := newRig(t, Config{PerSource: 1, Total: 3, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	for range 3 {
		r.admitted(r.dial("127.0.0.2"))
	}
	// The proxy holds the most, so a client of its own takes one back.
	r.admitted(r.dial("127.0.0.3"))
	r.closedOnArrival(r.dial("127.0.0.3"))
	r.want(ReasonSource, 1)
	r.want(ReasonEvicted, 1)
}

func TestOneSourceOpensAtMostItsRate(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	r := newRig(t, Config{Rate: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}, clock: clk})
	// A burst of ten seconds' worth, each closed before the next: closing
	// does not give the source a new start.
	for range 2 * burstSeconds {
		c := r.dial("127.0.0.2")
		r.admitted(c)
		c.server.Close()
	}
	r.closedOnArrival(r.dial("127.0.0.2"))
	r.want(ReasonRate, 1)
	r.admitted(r.dial("127.0.0.4")) // another source has its own
	for range 3 * burstSeconds {
		r.admitted(r.dial("127.0.0.3")) // an exempt one has none
	}

	// Half a second later the source may open one more.
	clk.Advance(500 * time.Millisecond)
	c := r.dial("127.0.0.2")
	r.admitted(c)
	c.server.Close()
	r.closedOnArrival(r.dial("127.0.0.2"))
	r.want(ReasonRate, 2)

	// A source without connections is forgotten once its bucket is full
	// again, not before.
	r.lim.mu.Lock()
	_, kept := r.lim.sources["127.0.0.2"]
	r.lim.mu.Unlock()
	if !kept {
		t.Fatal("the source was forgotten while its bucket was empty")
	}
	clk.Advance(burstSeconds*time.Second + sweepEvery)
	r.admitted(r.dial("127.0.0.4")) // sweeps
	r.lim.mu.Lock()
	_, kept = r.lim.sources["127.0.0.2"]
	r.lim.mu.Unlock()
	if kept {
		t.Error("a source with no connection and a full bucket is still remembered")
	}
	for range 2 * burstSeconds {
		c := r.dial("127.0.0.2")
		r.admitted(c)
		c.server.Close()
	}
}

// A flood from ever new sources (IPv6 /64s cost an attacker nothing)
// does not grow the sources remembered beyond twice those that must be,
// or sweepAbove, even within sweepEvery.
func TestNewSourcesAreForgottenAsFastAsTheyCome(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	l := New(Config{Rate: 100, PerSource: 10, clock: clk})
	for i := range 20 * sweepAbove {
		clk.Advance(time.Millisecond) // 1,000 new sources a second
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		c := l.admit(stubConn{remote: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 443))})
		if c == nil {
			t.Fatalf("source %d refused", i)
		}
		c.Close() // one connection each, closed at once
		l.mu.Lock()
		n := len(l.sources)
		l.mu.Unlock()
		if n > 2*sweepAbove+1 {
			t.Fatalf("%d sources remembered after %d, each with its one connection closed", n, i+1)
		}
	}
}

// stubConn is a connection that is only ever closed.
type stubConn struct {
	net.Conn
	remote net.Addr
}

func (c stubConn) RemoteAddr() net.Addr { return c.remote }
func (c stubConn) Close() error         { return nil }

func TestSourcesAreAddressesAndIPv6Slash64s(t *testing.T) {
	t.Parallel()
	l := New(Config{Exempt: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}})
	key := func(s string) (string, bool) {
		return l.sourceOf(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)))
	}
	for _, c := range []struct {
		addr, key string
		exempt    bool
	}{
		{"192.0.2.1:443", "192.0.2.1", false},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1", false},
		{"[2001:db8::1]:1", "2001:db8::/64", false},
		{"[2001:db8::ffff:1]:2", "2001:db8::/64", false},
		{"[2001:db8:1:2::1]:2", "2001:db8:1:2::/64", true},
	} {
		if k, ex := key(c.addr); k != c.key || ex != c.exempt {
			t.Errorf("%s: source %q exempt %v, want %q %v", c.addr, k, ex, c.key, c.exempt)
		}
	}
}

func TestDefaultTotalLeavesDescriptorsToTheRest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		files uint64
		want  int
	}{
		{0, 0}, // unknown: no bound
		{100, 1},
		{256, 128},
		{1024, 768},
		{20000, 15000},
		{1 << 20, 786432},
	} {
		if got := totalFor(c.files); got != c.want {
			t.Errorf("open-file limit %d: total %d, want %d", c.files, got, c.want)
		}
	}
}

// BenchmarkAdmitAndClose is the limiter's cost for one connection: its
// source, bucket and count on arrival, and its place given back on close.
func BenchmarkAdmitAndClose(b *testing.B) {
	l := New(Config{Total: 1 << 20, PerSource: DefaultPerSource, Rate: 1e9})
	remote := net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:443"))
	for b.Loop() {
		l.admit(stubConn{remote: remote}).Close()
	}
}

// BenchmarkRequests is what the limiter costs a request on a kept-alive
// HTTPS connection (the ConnState hook, and the wrapped connection's
// reads and writes), against the same server on a bare listener, in one
// run: a trivial handler, 32 clients.
func BenchmarkRequests(b *testing.B) {
	for _, limited := range []bool{false, true} {
		name := "bare"
		if limited {
			name = "limited"
		}
		b.Run(name, func(b *testing.B) {
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("errorCode=-2\n"))
			}))
			ts.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut by Close
			if limited {
				l := New(Config{Total: 1 << 20, PerSource: DefaultPerSource, Rate: DefaultRate})
				ts.Listener = l.Listen(ts.Listener)
				ts.Config.ConnState = l.ConnState
			}
			ts.StartTLS()
			defer ts.Close()
			client := ts.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = 32
			b.SetParallelism(16) // 32 clients on two processors
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(ts.URL)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
