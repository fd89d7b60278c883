// Package origin tells where a request came from when trusted proxies may
// stand in front of dcvmail: whether it came over HTTPS, and the client's
// address. A proxy's X-Forwarded-Proto and X-Forwarded-For are believed only
// from the configured addresses (--trusted-proxy); anyone else's are
// ignored.
package origin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the networks of trusted proxies.
type Proxies []netip.Prefix

// Origin is what is known of a request's sender.
type Origin struct {
	// IP is the client's address: the TCP peer, or behind trusted proxies
	// the rightmost X-Forwarded-For address that is not itself a trusted
	// proxy (a client can write anything left of what proxies append).
	// Invalid when the peer address cannot be read.
	IP netip.Addr
	// Peer is the TCP peer as net/http gives it.
	Peer string
	// HTTPS: over TLS directly, or a trusted proxy says X-Forwarded-Proto:
	// https.
	HTTPS bool
}

// Of reads a request's origin.
func (p Proxies) Of(r *http.Request) Origin {
	o := Origin{Peer: r.RemoteAddr, HTTPS: r.TLS != nil}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return o
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return o
	}
	o.IP = peer.Unmap()
	if !p.Trusted(o.IP) {
		return o
	}
	if r.Header.Get("X-Forwarded-Proto") == "https" {
		o.HTTPS = true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		o.IP = ip.Unmap()
		if !p.Trusted(o.IP) {
			break
		}
	}
	return o
}

// Trusted reports whether ip is a trusted proxy.
func (p Proxies) Trusted(ip netip.Addr) bool {
	for _, n := range p {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
