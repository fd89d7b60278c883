// Package loopback gives tests client addresses other than 127.0.0.1, so
// that they can play several sources (strangers beside a reseller) over
// real TCP on one machine. Linux routes all of 127.0.0.0/8 to the loopback
// interface; elsewhere (macOS) only 127.0.0.1 may be configured, and a test
// that needs more skips when run by hand. Under CI (CI set) it fails
// instead, so that nothing silently stops being tested.
package loopback

import (
	"net"
	"os"
	"testing"
)

// Source is the client address 127.0.0.n (n from 2 to 254) for a
// net.Dialer's LocalAddr. It skips the test (fails it under CI) when this
// machine cannot use that address.
func Source(t testing.TB, n int) *net.TCPAddr {
	t.Helper()
	ip := net.IPv4(127, 0, 0, byte(n))
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("loopback address %s is not usable here, and CI requires it: %v", ip, err)
		}
		t.Skipf("loopback address %s is not usable here (Linux routes 127.0.0.0/8; elsewhere add an alias): %v", ip, err)
	}
	ln.Close()
	return &net.TCPAddr{IP: ip}
}
