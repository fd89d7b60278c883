package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/loopback"
	"github.com/dcvmail/dcvmail/sps"
)

// TestConnectionFloodLeavesDescriptors: with its open-file limit at 256,
// a dcvmail serve on its default bounds is flooded with 480 connections
// that never send a byte, from eight addresses, each under the per-source
// bound, so that only the total (three quarters of the limit) holds them.
// Resellers' calls on new connections still get through, and the process
// never runs out of descriptors. Without the bounds (--max-connections -1
// --max-connections-per-source -1), accept failed with "too many open
// files" and calls waited for seconds (BENCHMARKS.md, "Fourteenth round").
func TestConnectionFloodLeavesDescriptors(t *testing.T) {
	t.Parallel()
	const files, sources, perSource = 256, 8, 60
	d := startDcvmailIn(t, []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files)}, t.TempDir(), "--demo")
	addr := strings.TrimPrefix(d.URL, "https://")
	for i := range sources {
		from := loopback.Source(t, 2+i)
		for range perSource {
			c, err := (&net.Dialer{LocalAddr: from, Timeout: 5 * time.Second}).Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial from %s: %v", from, err)
			}
			t.Cleanup(func() { c.Close() })
		}
	}
	// Each call on a connection of its own, accepted amid the flood.
	tr := d.client.Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for range 3 {
		c := &sps.Client{BaseURL: d.URL, LoginName: "login_name", LoginPassword: "login_password", HTTPClient: client}
		if _, err := c.ResendDCVEmail(t.Context(), sps.ResendDCVEmailRequest{OrderNumber: 1234567}); err != nil {
			t.Fatalf("a reseller's call amid the flood: %v", err)
		}
	}
	log := d.log.String()
	if strings.Contains(log, "too many open files") {
		t.Errorf("the process ran out of file descriptors:\n%s", tail(log, 2048))
	}
	if !strings.Contains(log, "connections closed as they arrived") {
		t.Errorf("no connection was limited (%d dialled, open-file limit %d):\n%s", sources*perSource, files, tail(log, 2048))
	}
}
