package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// While the oldest write waiting for the database has waited longer than
// --write-backlog-limit, every call that writes is answered -14 with
// Retry-After at once, before its login is checked: it writes nothing, not
// even a wrong password's failure, and tells nothing of the password.
// Reads are answered as ever, and a malformed call still gets its own
// answer. Once the writes have gone through, the same calls succeed.
func TestWritesRefusedWhileBacklogged(t *testing.T) {
	const limit = 50 * time.Millisecond
	f := newFixture(t, dcvtest.Options{WriteBacklogLimit: limit, AdminListen: true})
	before := f.Count(f.order)
	failures := func() int {
		var n int
		if err := f.Store.QueryRow(t.Context(), `SELECT COUNT(*) FROM login_failures`, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	failed := failures()
	// A first login from a source records the source, a write; this one
	// is done before the writes are held.
	if got := f.PostRaw(detailsPath, "loginName="+alice+"&loginPassword="+alicePass+"&orderNumber="+n(f.order)); !strings.HasPrefix(got, "errorCode=0") {
		t.Fatalf("details: %q", got)
	}
	as := func(login, pw string) string { return "loginName=" + login + "&loginPassword=" + pw }
	busy := "errorCode=-14&errorMessage=An+unknown+error+occurred%21&errorDetail=the+service+is+busy%3B+retry+after+"
	calls := []struct{ path, body, refused string }{
		{resendPath, as(alice, alicePass) + "&orderNumber=" + n(f.order), busy},
		{resendPath, as(alice, "wrong") + "&orderNumber=" + n(f.order), busy},
		{resendPath, as("mallory", "guess") + "&orderNumber=" + n(f.order), busy},
		{addressesPath, as(alice, alicePass) + "&domainName=example.com", "-14\nAn unknown error occurred!\n"},
		{"/products/download/!GetDCVEmailAddressList", as(alice, alicePass) + "&domainName=example.com", "-14\nAn unknown error occurred!\n"},
		{autoUpdatePath, as(alice, alicePass) + "&orderNumber=" + n(f.order) + "&newMethod=HTTP_CSR_HASH", busy},
	}

	release := f.HoldWrites(limit)
	for _, c := range calls {
		sent := time.Now()
		status, hdr, body := f.Do(http.MethodPost, f.Server.URL()+c.path, "application/x-www-form-urlencoded", c.body)
		if status != http.StatusOK || !strings.HasPrefix(body, c.refused) {
			t.Errorf("%s %s while writes wait: HTTP %d %q, want 200 and %q...", c.path, c.body, status, body, c.refused)
		}
		if ra := hdr.Get("Retry-After"); ra != "1" {
			t.Errorf("%s: Retry-After %q, want 1", c.path, ra)
		}
		// The time the detail names is a whole second, at least the
		// Retry-After away.
		if c.refused != busy {
			continue
		}
		v, _ := url.ParseQuery(body)
		at, err := time.Parse(time.RFC3339, strings.TrimPrefix(v.Get("errorDetail"), "the service is busy; retry after "))
		if err != nil || at.Before(sent.Add(time.Second)) || at.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s: errorDetail %q (%v), sent at %v", c.path, v.Get("errorDetail"), err, sent.UTC())
		}
	}
	// metric is the value of the one sample of an unlabelled family of
	// the admin listener's /metrics.
	metric := func(name string) float64 {
		t.Helper()
		_, _, text := f.Do(http.MethodGet, f.Server.AdminURL()+"/metrics", "", "")
		parser := expfmt.NewTextParser(prommodel.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil || fams[name] == nil || len(fams[name].Metric) != 1 {
			t.Fatalf("/metrics: %s: %v", name, err)
		}
		m := fams[name].Metric[0]
		return m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	// The operator sees the backlog in the metrics (on SQLite: on
	// PostgreSQL the scrape's own queries would wait for a connection).
	if f.Store.Dialect() == "sqlite" {
		if b := metric("dcvmail_store_write_backlog_seconds"); b <= limit.Seconds() {
			t.Errorf("/metrics: write backlog %v s while a write has waited over %v", b, limit)
		}
	}
	// The checks that touch nothing come first.
	wantBody(t, f.PostRaw(resendPath, as(alice, alicePass)+"&orderNumber=x"), invalidAnswer("orderNumber"))
	if f.Store.Dialect() == "sqlite" {
		// A read does not wait for the writer. (On PostgreSQL the held
		// transactions have every connection of the pool.)
		if got := f.PostRaw(detailsPath, as(alice, alicePass)+"&orderNumber="+n(f.order)); !strings.HasPrefix(got, "errorCode=0") {
			t.Errorf("details while writes wait: %q", got)
		}
	}
	release()

	// Writes of the server's own (the delivery worker's) that queued
	// meanwhile go through too.
	for deadline := time.Now().Add(10 * time.Second); f.Store.WriteBacklog() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("backlog %v ten seconds after the writes were released", f.Store.WriteBacklog())
		}
	}
	// ... and the refusals.
	if n := metric("dcvmail_write_backlog_refusals_total"); n != 6 {
		t.Errorf("/metrics counts %v refusals, want 6", n)
	}
	if after := f.Count(f.order); after != before {
		t.Errorf("refused calls changed the store: %+v, then %+v", before, after)
	}
	if n := failures(); n != failed {
		t.Errorf("refused logins were counted: %d failure rows, then %d", failed, n)
	}
	for _, c := range calls[:1] {
		if got := f.PostRaw(c.path, c.body); got != "errorCode=0" && !strings.HasPrefix(got, "errorCode=0&") {
			t.Errorf("%s after the backlog: %q", c.path, got)
		}
	}
	if got := f.PostRaw(addressesPath, calls[3].body); !strings.HasPrefix(got, "0\n") {
		t.Errorf("address list after the backlog: %q", got)
	}
}
