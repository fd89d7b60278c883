package origin

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote, proto, xff string
		tls                      bool
		wantIP                   string
		wantHTTPS                bool
	}{
		{"direct TLS", "192.0.2.7:5555", "", "", true, "192.0.2.7", true},
		{"direct plain ignores the headers", "192.0.2.7:5555", "https", "198.51.100.1", false, "192.0.2.7", false},
		{"trusted proxy", "10.1.2.3:5555", "https", "198.51.100.1", false, "198.51.100.1", true},
		{"forged left part is skipped", "10.1.2.3:5555", "https", "203.0.113.9, 198.51.100.1", false, "198.51.100.1", true},
		{"chain of proxies", "10.1.2.3:5555", "http", "198.51.100.1, 10.9.9.9", false, "198.51.100.1", false},
		{"mapped IPv4", "[::ffff:192.0.2.7]:5555", "", "", false, "192.0.2.7", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			r.TLS = nil
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			o := proxies.Of(r)
			if o.IP.String() != tc.wantIP || o.HTTPS != tc.wantHTTPS || o.Peer != tc.remote {
				t.Fatalf("%+v", o)
			}
		})
	}
}
