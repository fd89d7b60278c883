package api_test

import (
	"crypto/x509"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// TestValidityFollowsThePolicyDates: with the injected clock past each
// dated step, 398 days asked for are capped one day under the maximum of
// that date (199 from 2026-03-15, 99 from 2027-03-15, 46 from 2029-03-15).
func TestValidityFollowsThePolicyDates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	for i, c := range []struct {
		at   time.Time
		days int
	}{
		{dcvtest.Epoch, 199},
		{time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), 99},
		{time.Date(2029, 3, 16, 0, 0, 0, 0, time.UTC), 46},
	} {
		f.Clock.Set(c.at)
		name := "v" + strconv.Itoa(i) + ".example.com"
		csrPEM, _ := newCSR(t, name)
		f.offer(name)
		got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM, "days", "398",
			"dcvEmailAddress", "admin@"+name, "responseFormat", "1")))
		number, _ := strconv.ParseInt(got.Get("orderNumber"), 10, 64)
		f.confirm(number)
		col := parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "2", "responseFormat", "1")))
		der, _ := base64.StdEncoding.DecodeString(col.Get("certificate"))
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%v: %v %v", c.at, err, col)
		}
		if d := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; d != time.Duration(c.days)*24*time.Hour || !leaf.NotBefore.Equal(c.at) {
			t.Errorf("at %v: validity %v from %v, want %d days", c.at, d, leaf.NotBefore, c.days)
		}
	}
}
