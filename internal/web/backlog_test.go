package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/web"
)

// While the oldest write waiting for the database has waited longer than
// --write-backlog-limit, a POST gets the busy page at once, with HTTP 503
// and Retry-After: its code is neither looked up nor counted, whether
// right or wrong, so the answer tells nothing and the right code confirms
// afterwards. The form (a GET) is shown as ever.
func TestBusyWhileWritesBacklogged(t *testing.T) {
	const limit = 50 * time.Millisecond
	f := newFixture(t, dcvtest.Options{WriteBacklogLimit: limit})
	attempts := f.count("code_attempts")
	post := func(code string) page {
		t.Helper()
		form := url.Values{"orderNumber": {n(f.order)}, "dcvCode": {code}}.Encode()
		status, hdr, body := f.Do(http.MethodPost, f.Server.URL()+web.Path, "application/x-www-form-urlencoded", form)
		return page{status, hdr, body}
	}

	release := f.HoldWrites(limit)
	for _, code := range []string{f.code, aWrongCode} {
		p := post(code)
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") != "1" {
			t.Fatalf("POST while writes wait: HTTP %d, Retry-After %q; want 503 and 1", p.status, p.header.Get("Retry-After"))
		}
		wantContains(t, p, `data-state="busy"`, "The service is busy", "Your code was not checked")
		wantLacks(t, p, web.PhraseConfirmed, web.PhraseInvalid)
	}
	wantContains(t, f.request(http.MethodGet, f.Server.URL(), "orderNumber="+n(f.order)+"&dcvCode="+f.code, "", ""), `data-state="form"`)
	release()

	if got := f.count("code_attempts"); got != attempts {
		t.Fatalf("refused POSTs were counted: %d rows of counts, then %d", attempts, got)
	}
	f.wantValidated(f.order, false)
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}
