package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// client is what the page knows of who sent a request.
type client struct {
	ip    string // the approver's address, as far as trusted proxies tell
	peer  string // the TCP peer
	https bool   // the request came over TLS, directly or by a trusted proxy
}

// clientOf reads a request's origin. A trusted proxy's X-Forwarded-Proto
// and X-Forwarded-For are believed; anyone else's are ignored. In
// X-Forwarded-For the address taken is the rightmost one that is not itself
// a trusted proxy, since a client can write anything to the left of what
// the proxies appended.
func clientOf(r *http.Request, proxies []netip.Prefix) client {
	c := client{peer: r.RemoteAddr, https: r.TLS != nil}
	peer, ok := addrOf(r.RemoteAddr)
	if !ok {
		c.ip = r.RemoteAddr
		return c
	}
	c.ip = peer.String()
	if !trusted(peer, proxies) {
		return c
	}
	if r.Header.Get("X-Forwarded-Proto") == "https" {
		c.https = true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = ip.Unmap()
		c.ip = ip.String()
		if !trusted(ip, proxies) {
			break
		}
	}
	return c
}

func addrOf(hostport string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
