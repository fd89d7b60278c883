package server_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/loopback"
)

// A stranger who opens connections and sends nothing, from several
// addresses, to the HTTPS and plain-HTTP listeners alike, keeps at most
// --max-connections-per-source from each, and at
// --max-connections gives its places back to newcomers: a reseller's
// keep-alive connection stays, and a reseller's new connection gets in.
// Without the bounds, such connections took every file descriptor of the
// process and every client waited (BENCHMARKS.md, "Fourteenth round";
// internal/e2e's TestConnectionFloodLeavesDescriptors runs that case).
func TestStrangerHoardingConnectionsLocksNobodyOut(t *testing.T) {
	t.Parallel()
	const total, perSource, strangers, dials = 12, 4, 5, 8
	s := startOps(t, func(c *config.Serve) {
		c.Limits.MaxConnections, c.Limits.MaxConnectionsPerSource = total, perSource
		c.HTTPListen = "127.0.0.1:0"
	})
	s.addAccount(t, "reseller", "a long password")
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	call := func(tr *http.Transport) (reused bool) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		form := url.Values{"loginName": {"reseller"}, "loginPassword": {"a long password"}, "domainName": {"example.com"}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "POST",
			s.URL()+"/products/!GetDCVEmailAddressList", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("a reseller's call: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(b), "0\n") { // the text format: errorCode, then the addresses
			t.Fatalf("a reseller's call: %s", b)
		}
		return reused
	}
	call(tr)

	// Each dial is, in the end, closed on arrival (its source held its
	// share, or the total was reached and no source held more), taken
	// back for a later one, or open; the reseller holds the one other.
	limited := func(fams map[string]*dto.MetricFamily, reason string) float64 {
		n, _ := value(fams, "dcvmail_connections_limited_total", "reason="+reason)
		return n
	}
	var fams map[string]*dto.MetricFamily
	settle := func(dialed int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			fams = scrape(t, s)
			open, _ := value(fams, "dcvmail_connections_open", "")
			decided := limited(fams, "source") + limited(fams, "total") + limited(fams, "evicted") + open - 1
			if decided == float64(dialed) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("of the stranger's %d connections, %v were accounted for", dialed, decided)
			}
		}
	}

	// The stranger: dials connections from 127.0.0.2, 127.0.0.3, ... that
	// never send a byte (no TLS handshake, no request), every other one to
	// the plain-HTTP listener, which shares the bounds. The two listeners
	// accept in goroutines of their own, so each address's connections are
	// left to be accounted for before the next address dials: otherwise
	// the order in which they reach the limiter, and so which bound closes
	// each, would depend on the scheduler.
	listeners := []string{strings.TrimPrefix(s.URL(), "https://"), strings.TrimPrefix(s.HTTPURL(), "http://")}
	for i := range strangers {
		from := loopback.Source(t, 2+i)
		for j := range dials {
			c, err := (&net.Dialer{LocalAddr: from, Timeout: 5 * time.Second}).Dial("tcp", listeners[j%2])
			if err != nil {
				t.Fatalf("dial from %s: %v", from, err)
			}
			t.Cleanup(func() { c.Close() })
		}
		settle((i + 1) * dials)
	}
	if n, _ := value(fams, "dcvmail_connections_open", ""); n != total {
		t.Errorf("open connections: %v, want the bound, %d", n, total)
	}
	if limited(fams, "source") < dials-perSource {
		t.Errorf("connections closed for their source: %v, want at least the first source's %d extra", limited(fams, "source"), dials-perSource)
	}
	if limited(fams, "evicted") < 1 {
		t.Error("no stranger's connection was taken back at the total")
	}

	// The reseller's idle connection was kept, and serves the next call.
	if !call(tr) {
		t.Error("the reseller's keep-alive connection was taken back")
	}
	// A new connection of the reseller's takes a stranger's place.
	fresh := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(fresh.CloseIdleConnections)
	if call(fresh) {
		t.Fatal("the fresh transport reused a connection")
	}
	after := scrape(t, s)
	if b, a := limited(fams, "evicted"), limited(after, "evicted"); a != b+1 {
		t.Errorf("evictions for the reseller's new connection: %v -> %v, want one more", b, a)
	}
}

// A stranger who reconnects as fast as it can, each time with a full TLS
// handshake (about 380 µs of the server's CPU here), gets
// --connection-rate-per-source handshakes a second after its burst; the
// rest are closed before TLS.
func TestStrangerReconnectingIsHeldToItsRate(t *testing.T) {
	t.Parallel()
	const rate, burst, tries = 1, 10, 40 // the burst is ten seconds' worth
	s := startOps(t, func(c *config.Serve) { c.Limits.ConnectionRatePerSource = rate })
	s.addAccount(t, "reseller", "a long password")
	from := loopback.Source(t, 2)
	start, handshakes := time.Now(), 0
	for range tries {
		c, err := tls.DialWithDialer(&net.Dialer{LocalAddr: from, Timeout: 5 * time.Second}, "tcp",
			strings.TrimPrefix(s.URL(), "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				t.Fatalf("dial from %s: %v", from, err)
			}
			continue // closed before the handshake
		}
		handshakes++
		c.Close()
	}
	if most := burst + rate*int(time.Since(start).Seconds()+1); handshakes < burst || handshakes > most {
		t.Errorf("%d handshakes of %d tries, want %d to %d", handshakes, tries, burst, most)
	}
	fams := scrape(t, s)
	if n, _ := value(fams, "dcvmail_connections_limited_total", "reason=rate"); n != float64(tries-handshakes) {
		t.Errorf("connections closed for their rate: %v, want %d", n, tries-handshakes)
	}
	// This machine's own clients (127.0.0.1) have no rate: a local proxy,
	// or a test suite that opens a connection for every call.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	form := url.Values{"loginName": {"reseller"}, "loginPassword": {"a long password"}, "domainName": {"example.com"}}
	for i := range 2 * burst {
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).PostForm(s.URL()+"/products/!GetDCVEmailAddressList", form)
		if err != nil {
			t.Fatalf("a local client's call %d, each on a new connection: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(b), "0\n") {
			t.Fatalf("a local client's call %d: %s", i+1, b)
		}
	}
}
