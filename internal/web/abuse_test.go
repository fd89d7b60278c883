package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/web"
)

// from is the header that makes a request come from addr, through the
// trusted proxy every abuse fixture names (the test client is loopback).
func from(addr string) []string { return []string{"X-Forwarded-For", addr} }

func newProxiedFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, dcvtest.Options{TrustedProxies: []string{"127.0.0.0/8"}})
}

// Issue 16, item 1: wrong codes from one source lock the page for that
// source only; the domain owner, elsewhere, confirms at once.
func TestPageLockIsPerSource(t *testing.T) {
	f := newProxiedFixture(t)
	for range dcv.CodeAttemptLimit {
		wantContains(t, f.submit(n(f.order), aWrongCode, from("203.0.113.66")...), web.PhraseInvalid)
	}
	wantContains(t, f.submit(n(f.order), f.code, from("203.0.113.66")...), "Too many wrong codes")
	f.wantValidated(f.order, false)
	// The same /64 is the same source; another /64 is not.
	for range dcv.CodeAttemptLimit {
		f.submit(n(f.order), aWrongCode, from("2001:db8:1:1::1")...)
	}
	wantContains(t, f.submit(n(f.order), f.code, from("2001:db8:1:1::ffff")...), "Too many wrong codes")
	wantContains(t, f.submit(n(f.order), f.code, from("198.51.100.9")...), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}

// Issue 16, item 1: one source guessing across many orders is stopped by
// its own lock across all orders, and other sources are untouched.
func TestPageSourceLockAcrossOrders(t *testing.T) {
	f := newProxiedFixture(t)
	other := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	otherCode := lastCode(t, f.Env, other)
	for i := range dcv.SourceCodeAttemptLimit {
		// Never more than a few codes per order: only the source's total
		// count can lock it.
		f.submit(n(f.order+100+int64(i/3)), aWrongCode, from("203.0.113.67")...)
	}
	wantContains(t, f.submit(n(other), otherCode, from("203.0.113.67")...), "Too many wrong codes")
	f.wantValidated(other, false)
	wantContains(t, f.submit(n(other), otherCode, from("203.0.113.68")...), web.PhraseConfirmed)
}

// Issue 16, item 1: an order number that does not exist gets no count and
// no row, and locking a number before its order exists does not keep its
// real code out.
func TestPageMissingOrdersLeaveNoRows(t *testing.T) {
	f := newProxiedFixture(t)
	next := f.order + 1
	for range dcv.CodeAttemptLimit + 1 {
		f.submit(n(next), aWrongCode, from("203.0.113.69")...)
	}
	for i := range int64(20) {
		f.submit(n(f.order+1000+i), aWrongCode, from("203.0.113.69")...)
	}
	var rows int
	if err := f.Store.QueryRow(t.Context(), `SELECT COUNT(*) FROM code_attempts WHERE order_number <> 0`, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d rows of counts for orders that do not exist", rows)
	}
	created := f.AddOrder(alice, []string{"example.net"}, 0, "admin@example.net")
	if created != next {
		t.Fatalf("order %d, want %d", created, next)
	}
	wantContains(t, f.submit(n(created), lastCode(t, f.Env, created), from("203.0.113.70")...), web.PhraseConfirmed)
}

// Issue 16, item 1: a new DCV email's code is judged on its own, even
// from the source whose wrong codes locked the order's older code.
func TestPageNewEmailIsJudgedOnItsOwn(t *testing.T) {
	f := newProxiedFixture(t)
	for range dcv.CodeAttemptLimit {
		f.submit(n(f.order), aWrongCode, from("203.0.113.71")...)
	}
	wantContains(t, f.submit(n(f.order), f.code, from("203.0.113.71")...), "Too many wrong codes")
	f.Post("/products/!GetDCVEmailAddressList", url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "domainName": {"example.com"}})
	if got := f.Post("/products/!ResendDCVEmail", url.Values{"loginName": {alice}, "loginPassword": {alicePass},
		"orderNumber": {n(f.order)}, "dcvEmailAddress": {"hostmaster@example.com"}}); got != "errorCode=0" {
		t.Fatalf("resend: %s", got)
	}
	wantContains(t, f.submit(n(f.order), lastCode(t, f.Env, f.order), from("203.0.113.71")...), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}

// Issue 16, item 4: a GET answers the same page whatever the code: the
// right code of an order shows nothing that a wrong one does not.
func TestPageGetIsNoOracle(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	right := f.request(http.MethodGet, f.Server.URL(), "orderNumber="+n(f.order)+"&dcvCode="+f.code, "", "")
	wrong := f.request(http.MethodGet, f.Server.URL(), "orderNumber="+n(f.order)+"&dcvCode="+aWrongCode, "", "")
	if strings.ReplaceAll(right.body, f.code, aWrongCode) != wrong.body {
		t.Fatalf("the GET with the right code differs from one with a wrong code:\n%s\n---\n%s", visibleText(right.body), visibleText(wrong.body))
	}
	wantContains(t, right, `value="`+f.code+`"`)
	wantLacks(t, right, "example.com")
	f.wantValidated(f.order, false)
}

// Issue 16, item 9: a code posted over plain HTTP is not judged, right or
// wrong: the page asks for HTTPS, counts nothing and validates nothing.
func TestPagePlainHTTPIsNotJudged(t *testing.T) {
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	for _, code := range []string{aWrongCode, f.code} {
		form := url.Values{"orderNumber": {n(f.order)}, "dcvCode": {code}}.Encode()
		p := f.request(http.MethodPost, f.Server.HTTPURL(), "", "application/x-www-form-urlencoded", form)
		wantContains(t, p, "Please use HTTPS", "nothing has been changed")
		wantLacks(t, p, web.PhraseConfirmed, web.PhraseInvalid)
	}
	f.wantValidated(f.order, false)
	if c := f.count("code_attempts"); c != 0 {
		t.Fatalf("%d counts from plain HTTP", c)
	}
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseConfirmed)
}

// A code of the order is judged before it is counted: one wrong code short
// of the limit, the right code still confirms, and it adds nothing to the
// source's counts, so the next wrong code is the source's last try.
func TestPageRightCodeIsNotCounted(t *testing.T) {
	f := newProxiedFixture(t)
	const source = "203.0.113.72"
	for range dcv.CodeAttemptLimit - 1 {
		wantContains(t, f.submit(n(f.order), aWrongCode, from(source)...), web.PhraseInvalid)
	}
	wantContains(t, f.submit(n(f.order), f.code, from(source)...), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
	for _, subject := range []string{"source:" + source, "order:" + n(f.order) + " source:" + source} {
		var failures int
		if err := f.Store.QueryRow(t.Context(), `SELECT failures FROM code_attempts WHERE subject = $1`, &failures, subject); err != nil || failures != dcv.CodeAttemptLimit-1 {
			t.Fatalf("%s: %d failures (%v), want %d: the right code was counted", subject, failures, err, dcv.CodeAttemptLimit-1)
		}
	}
	wantContains(t, f.submit(n(f.order), aWrongCode, from(source)...), "That was the last try for now")
}
