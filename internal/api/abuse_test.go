package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// Issue 16, item 10: GetDCVEmailAddressList keeps one offer per (account,
// name, address) with its latest time, however often it is called, and
// offers past 24 hours are pruned; the 24-hour rule still counts from the
// latest offer.
func TestAddressOffersStayBounded(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	rows := func() int {
		t.Helper()
		var c int
		if err := f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM address_offers`, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := f.offer("example.com"); !strings.HasPrefix(got, "0") {
		t.Fatalf("offer: %s", got)
	}
	one := rows()
	if one < 5 {
		t.Fatalf("%d offers after one call, want the constructed addresses", one)
	}
	for range 20 {
		f.Clock.Advance(time.Hour)
		f.offer("example.com")
	}
	if got := rows(); got != one {
		t.Fatalf("%d offers after 21 calls, want %d (one per address)", got, one)
	}
	// The latest offer counts: 23 hours after it the address is still
	// permitted, although the first offer is 43 hours old.
	f.Clock.Advance(23 * time.Hour)
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@example.com"), "errorCode=0")
	// A day later the offers of example.com are past 24 hours: the next
	// call (for another name) prunes them.
	f.Clock.Advance(2 * time.Hour)
	f.offer("example.org")
	var old int
	if err := f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM address_offers WHERE fqdn = 'example.com'`, &old); err != nil {
		t.Fatal(err)
	}
	if old != 0 {
		t.Fatalf("%d offers past 24 hours kept", old)
	}
}

// Issue 16, item 9: every API answer, errors included, carries
// X-Content-Type-Options: nosniff.
func TestAPIAnswersCarryNosniff(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	for _, body := range []string{"loginName=alice&loginPassword=wrong&orderNumber=1", "unknown=1", ""} {
		_, hdr, _ := f.Do(http.MethodPost, f.Server.URL()+resendPath, "application/x-www-form-urlencoded", body)
		if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("body %q: X-Content-Type-Options %q", body, got)
		}
	}
}
