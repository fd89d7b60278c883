package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/web"
)

const (
	alice     = "alice"
	alicePass = "alice-secret-pass"
	// aWrongCode has the shape of a random value but is no order's.
	aWrongCode = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// fixture is a server with alice's order for example.com and
// www.example.com, whose first DCV email went to admin@example.com.
type fixture struct {
	*dcvtest.Env
	order int64
	code  string
}

func newFixture(t *testing.T, o dcvtest.Options) *fixture {
	t.Helper()
	env := dcvtest.Start(t, o)
	env.AddAccount(alice, alicePass, false)
	order := env.AddOrder(alice, []string{"example.com", "www.example.com"}, 0, "admin@example.com")
	return &fixture{Env: env, order: order, code: lastCode(t, env, order)}
}

// lastCode is the code of the newest message captured for an order.
func lastCode(t *testing.T, env *dcvtest.Env, order int64) string {
	t.Helper()
	msgs := env.Mailbox(order)
	if len(msgs) == 0 || msgs[len(msgs)-1].DCVCode == "" {
		t.Fatalf("no code captured for order %d: %+v", order, msgs)
	}
	return msgs[len(msgs)-1].DCVCode
}

func n(i int64) string { return strconv.FormatInt(i, 10) }

// page is one answer of the confirmation page.
type page struct {
	status int
	header http.Header
	body   string
}

// request sends a request to the page over HTTPS with extra headers (name,
// value pairs).
func (f *fixture) request(method, base, query, contentType, body string, headers ...string) page {
	f.T.Helper()
	u := base + web.Path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		f.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		f.T.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.T.Fatal(err)
	}
	// docs/api.md §6: every answer of the page is HTTP 200.
	if resp.StatusCode != http.StatusOK {
		f.T.Fatalf("%s %s: HTTP %d, want 200", method, u, resp.StatusCode)
	}
	return page{resp.StatusCode, resp.Header, string(b)}
}

// submit posts the form as a browser does.
func (f *fixture) submit(order, code string, headers ...string) page {
	f.T.Helper()
	form := url.Values{"orderNumber": {order}, "dcvCode": {code}}.Encode()
	return f.request(http.MethodPost, f.Server.URL(), "", "application/x-www-form-urlencoded", form, headers...)
}

func (f *fixture) domains(order int64) []model.Domain {
	f.T.Helper()
	ds, err := f.Store.Domains(context.Background(), order)
	if err != nil {
		f.T.Fatal(err)
	}
	return ds
}

func (f *fixture) wantValidated(order int64, want bool) {
	f.T.Helper()
	for _, d := range f.domains(order) {
		if got := !d.Validated.IsZero(); got != want {
			f.T.Fatalf("%s validated=%v, want %v", d.Name, got, want)
		}
	}
}

func (f *fixture) count(table string) int {
	f.T.Helper()
	var c int
	if err := f.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table, &c); err != nil {
		f.T.Fatal(err)
	}
	return c
}

func wantContains(t *testing.T, p page, phrases ...string) {
	t.Helper()
	for _, s := range phrases {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q:\n%s", s, visibleText(p.body))
		}
	}
}

func wantLacks(t *testing.T, p page, phrases ...string) {
	t.Helper()
	for _, s := range phrases {
		if strings.Contains(p.body, s) {
			t.Fatalf("page has %q:\n%s", s, visibleText(p.body))
		}
	}
}

var tags = regexp.MustCompile(`(?s)<style>.*</style>|<[^>]+>`)

// visibleText is the page without markup, for failure messages.
func visibleText(html string) string {
	return strings.Join(strings.Fields(tags.ReplaceAllString(html, " ")), " ")
}

// docs/api.md §6: the right code validates every domain its email
// covers, the page says the phrase clients look for, and the answer keeps
// the code out of caches and frames.
func TestSection6RightCodeValidates(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, web.PhraseConfirmed, "example.com", "www.example.com")
	wantLacks(t, p, web.PhraseInvalid)
	f.wantValidated(f.order, true)
	for _, d := range f.domains(f.order) {
		if d.ValidatedEmailID != d.CurrentEmailID || d.ValidatedEmailID == 0 {
			t.Fatalf("%s: validated by email %d, live email %d", d.Name, d.ValidatedEmailID, d.CurrentEmailID)
		}
	}
	for name, want := range map[string]string{
		"Content-Type":              "text/html; charset=utf-8",
		"Cache-Control":             "no-store",
		"Strict-Transport-Security": "max-age=31536000",
		"Referrer-Policy":           "no-referrer",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if p.header.Get("Set-Cookie") != "" {
		t.Error("the page sets a cookie")
	}
}

// The page's only style is inline, and the Content-Security-Policy allows
// exactly it by hash: no script, no other origin, no frame.
func TestSection6ContentSecurityPolicyAllowsOnlyTheInlineStyle(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	p := f.request(http.MethodGet, f.Server.URL(), "", "", "")
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no inline style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	wantContains(t, p, `<html lang="en">`, `name="viewport"`, `<label for="orderNumber">`, `<label for="dcvCode">`, ":focus-visible")
}

// docs/api.md §6: a GET never changes state (mail scanners open links);
// it shows the form filled in from the link, and nothing that depends on
// the code (TestPageGetIsNoOracle).
func TestSection6GetNeverChangesState(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	attempts, confirmations := f.count("code_attempts"), f.count("confirmations")
	query := "orderNumber=" + n(f.order) + "&dcvCode=" + f.code
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodGet, "PUT", "DELETE", "OPTIONS"} {
		p := f.request(method, f.Server.URL(), query, "", "")
		if method == http.MethodGet {
			wantContains(t, p, `value="`+n(f.order)+`"`, `value="`+f.code+`"`)
			wantLacks(t, p, web.PhraseConfirmed, web.PhraseInvalid, "<li>example.com</li>")
		}
	}
	// A wrong code in a link shows the form, and no domains.
	p := f.request(http.MethodGet, f.Server.URL(), "orderNumber="+n(f.order)+"&dcvCode="+aWrongCode, "", "")
	wantLacks(t, p, "<li>example.com</li>", web.PhraseInvalid)
	if after := f.Count(f.order); after != before {
		t.Fatalf("GET changed state: %+v -> %+v", before, after)
	}
	if f.count("code_attempts") != attempts || f.count("confirmations") != confirmations {
		t.Fatal("GET counted an attempt or recorded a confirmation")
	}
	f.wantValidated(f.order, false)
}

// docs/api.md §6: existing automation posts the fields in the query
// string with an empty body.
func TestSection6PostWithQueryStringAndEmptyBody(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	p := f.request(http.MethodPost, f.Server.URL(), "orderNumber="+n(f.order)+"&dcvCode="+f.code, "", "")
	wantContains(t, p, web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}

// A code pasted with white space around it, or typed in lowercase, is the
// same code (the alphabet is A-Z and 2-7). Multipart bodies (curl -F) are
// read too.
func TestSection6CodeIsTrimmedAndUppercased(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	p := f.submit(" "+n(f.order)+" ", "\n\t "+strings.ToLower(f.code)+"  \r\n")
	wantContains(t, p, web.PhraseConfirmed)
	f.wantValidated(f.order, true)

	other := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	code := lastCode(t, f.Env, other)
	body := "--XX\r\nContent-Disposition: form-data; name=\"orderNumber\"\r\n\r\n" + n(other) +
		"\r\n--XX\r\nContent-Disposition: form-data; name=\"dcvCode\"\r\n\r\n" + code + "\r\n--XX--\r\n"
	p = f.request(http.MethodPost, f.Server.URL(), "", "multipart/form-data; boundary=XX", body)
	wantContains(t, p, web.PhraseConfirmed)
	f.wantValidated(other, true)
}

// docs/api.md §6: a wrong code is refused with the phrase clients look
// for, and the answer for an order that does not exist is the same, so
// order numbers cannot be probed.
func TestSection6WrongCodeRevealsNothing(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	wrong := f.submit(n(f.order), aWrongCode)
	wantContains(t, wrong, web.PhraseInvalid, "check the order number and the code")
	f.wantValidated(f.order, false)
	missing := "99999999"
	none := f.submit(missing, aWrongCode)
	if strings.ReplaceAll(none.body, missing, n(f.order)) != wrong.body {
		t.Fatalf("a missing order answers differently:\n%s\n---\n%s", visibleText(none.body), visibleText(wrong.body))
	}
	// The right code of a missing order number, too.
	if got := f.submit(missing, f.code); strings.ReplaceAll(got.body, missing, n(f.order)) != strings.ReplaceAll(wrong.body, aWrongCode, f.code) {
		t.Fatalf("another order's number with a real code answers differently:\n%s", visibleText(got.body))
	}
	// Malformed input says how a code looks, and is not counted.
	before := f.count("code_attempts")
	wantContains(t, f.submit(n(f.order), "not a code"), web.PhraseInvalid, "26 characters")
	wantContains(t, f.submit("12x", f.code), web.PhraseInvalid)
	if f.count("code_attempts") != before {
		t.Fatal("a malformed code was counted")
	}
	// Missing fields ask for both.
	wantContains(t, f.submit(n(f.order), ""), "Both fields are needed")
	f.wantValidated(f.order, false)
}

// docs/api.md §6: the code of another order does not confirm this one,
// and the page says no more than for a wrong code.
func TestSection6AnotherOrdersCode(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	other := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	otherCode := lastCode(t, f.Env, other)
	p := f.submit(n(f.order), otherCode)
	wrong := f.submit(n(f.order), aWrongCode)
	if strings.ReplaceAll(p.body, otherCode, aWrongCode) != wrong.body {
		t.Fatalf("another order's code answers differently from a wrong one:\n%s", visibleText(p.body))
	}
	f.wantValidated(f.order, false)
	f.wantValidated(other, false)
}

// docs/rules.md: a random value confirms for at most its validity (29 days
// by default) from its creation; afterwards the page says it expired.
func TestSection6ExpiredCodeNoLongerConfirms(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.Clock.Advance(dcv.DefaultPolicy.CodeValidity)
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, web.PhraseInvalid, "This code expired on")
	wantLacks(t, p, web.PhraseConfirmed)
	f.wantValidated(f.order, false)
	// One moment before the end it still confirmed: the boundary is the
	// email's expiry itself.
	g := newFixture(t, dcvtest.Options{})
	g.Clock.Advance(dcv.DefaultPolicy.CodeValidity - time.Second)
	wantContains(t, g.submit(n(g.order), g.code), web.PhraseConfirmed)
}

// ResendDCVEmail rule 3: once a new email replaced a code, the old code
// validates nothing; the new one does.
func TestSection6SupersededCodeIsRefused(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.Post("/products/!GetDCVEmailAddressList", url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "domainName": {"example.com"}})
	if got := f.Post("/products/!ResendDCVEmail", url.Values{"loginName": {alice}, "loginPassword": {alicePass},
		"orderNumber": {n(f.order)}, "dcvEmailAddress": {"hostmaster@example.com"}}); got != "errorCode=0" {
		t.Fatalf("resend: %s", got)
	}
	newCode := lastCode(t, f.Env, f.order)
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, web.PhraseInvalid, "A newer DCV email has replaced")
	f.wantValidated(f.order, false)
	wantContains(t, f.submit(n(f.order), newCode), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}

// docs/api.md §6: a code posted again after it confirmed (a replay, a
// double click) says that the certificate has already been issued, and
// changes nothing more.
func TestSection6ReplayAfterSuccessSaysAlreadyIssued(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseConfirmed)
	validated := f.domains(f.order)
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, web.PhraseAlreadyIssued)
	wantLacks(t, p, web.PhraseConfirmed, web.PhraseInvalid)
	if got := f.domains(f.order); got[0].Validated != validated[0].Validated {
		t.Fatal("the replay moved the validation time")
	}
	if c := f.count("confirmations"); c != 1 {
		t.Fatalf("%d confirmations recorded, want 1", c)
	}
	// Replays are not wrong codes: many of them never lock the order.
	for range dcv.CodeAttemptLimit + 2 {
		wantContains(t, f.submit(n(f.order), f.code), web.PhraseAlreadyIssued)
	}
}

// docs/api.md §6: wrong codes are limited per order, in the database so
// that the limit holds across nodes: after 10 in an hour even the right
// code is refused, with a clear message and still HTTP 200, until the hour
// is over. Order numbers that do not exist are limited alike.
func TestSection6WrongAttemptLimit(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	for i := 1; i <= dcv.CodeAttemptLimit; i++ {
		p := f.submit(n(f.order), aWrongCode)
		wantContains(t, p, web.PhraseInvalid)
		if i == dcv.CodeAttemptLimit {
			wantContains(t, p, "That was the last try for now")
		}
		f.Clock.Advance(time.Minute)
	}
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, "Too many wrong codes", "Nothing has been changed")
	wantLacks(t, p, web.PhraseConfirmed, `name="dcvCode"`)
	f.wantValidated(f.order, false)
	// The count is in the database, where every node reads it.
	var failures int
	if err := f.Store.QueryRow(context.Background(), `SELECT failures FROM code_attempts WHERE order_number = $1 AND subject LIKE 'order:%'`, &failures, f.order); err != nil || failures <= dcv.CodeAttemptLimit {
		t.Fatalf("stored count %d (%v)", failures, err)
	}
	// An hour after the first wrong code the order takes codes again.
	f.Clock.Advance(time.Hour - time.Duration(dcv.CodeAttemptLimit)*time.Minute)
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseConfirmed)
	f.wantValidated(f.order, true)
}

// docs/rules.md, Evidence: the approver's address and user agent are kept
// with each confirmation.
func TestSection6EvidenceKeepsIPAndUserAgent(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	wantContains(t, f.submit(n(f.order), f.code, "User-Agent", "EvidenceBrowser/1.0 (test)"), web.PhraseConfirmed)
	cs, err := f.DCV.Confirmations(context.Background(), f.order)
	if err != nil || len(cs) != 1 {
		t.Fatalf("confirmations %+v (%v)", cs, err)
	}
	c := cs[0]
	if c.ClientIP != "127.0.0.1" || !strings.HasPrefix(c.PeerAddr, "127.0.0.1:") || c.UserAgent != "EvidenceBrowser/1.0 (test)" ||
		!c.At.Equal(dcvtest.Epoch) || strings.Join(c.Domains, " ") != "example.com www.example.com" ||
		c.EmailID != f.domains(f.order)[0].ValidatedEmailID {
		t.Fatalf("evidence %+v", c)
	}
}

// Behind a trusted proxy the approver's address is the one the proxy
// forwarded, and X-Forwarded-Proto: https earns the HSTS header; from
// anyone else both headers are ignored, and the request counts as plain
// HTTP, where codes are not judged (TestPagePlainHTTPIsNotJudged).
func TestSection6EvidenceBehindTrustedProxy(t *testing.T) {
	f := newFixture(t, dcvtest.Options{HTTPListen: true, TrustedProxies: []string{"127.0.0.0/8"}})
	form := url.Values{"orderNumber": {n(f.order)}, "dcvCode": {f.code}}.Encode()
	p := f.request(http.MethodPost, f.Server.HTTPURL(), "", "application/x-www-form-urlencoded", form,
		"X-Forwarded-For", "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto", "https", "User-Agent", "ProxiedBrowser/2")
	wantContains(t, p, web.PhraseConfirmed)
	if got := p.header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("HSTS %q", got)
	}
	cs, err := f.DCV.Confirmations(context.Background(), f.order)
	if err != nil || len(cs) != 1 || cs[0].ClientIP != "203.0.113.7" || cs[0].UserAgent != "ProxiedBrowser/2" {
		t.Fatalf("evidence %+v (%v), want client 203.0.113.7", cs, err)
	}

	g := newFixture(t, dcvtest.Options{HTTPListen: true, TrustedProxies: []string{"192.0.2.0/24"}})
	form = url.Values{"orderNumber": {n(g.order)}, "dcvCode": {g.code}}.Encode()
	p = g.request(http.MethodPost, g.Server.HTTPURL(), "", "application/x-www-form-urlencoded", form,
		"X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https")
	wantContains(t, p, "Please use HTTPS")
	if got := p.header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS %q over plain HTTP", got)
	}
	g.wantValidated(g.order, false)
}

// A code covers the domains whose live email it is: after one domain of
// the order switched to another address, the first code validates the
// rest, and the second code validates the one.
func TestSection6CodeValidatesOnlyTheDomainsItCovers(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.Post("/products/!GetDCVEmailAddressList", url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "domainName": {"www.example.com"}})
	if got := f.Post("/products/!ResendDCVEmail", url.Values{"loginName": {alice}, "loginPassword": {alicePass},
		"orderNumber": {n(f.order)}, "dcvEmailAddress": {"admin@www.example.com"}}); got != "errorCode=0" {
		t.Fatalf("resend: %s", got)
	}
	wwwCode := lastCode(t, f.Env, f.order)
	p := f.submit(n(f.order), f.code)
	wantContains(t, p, web.PhraseConfirmed, "<li>example.com</li>")
	wantLacks(t, p, "<li>www.example.com</li>")
	ds := f.domains(f.order)
	if ds[0].Validated.IsZero() || !ds[1].Validated.IsZero() {
		t.Fatalf("want only example.com validated: %+v", ds)
	}
	// Again: only this code's domains are done; others still wait.
	wantContains(t, f.submit(n(f.order), f.code), "The domains this code covers are already validated")
	wantContains(t, f.submit(n(f.order), wwwCode), web.PhraseConfirmed, "<li>www.example.com</li>")
	f.wantValidated(f.order, true)
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseAlreadyIssued)
}

// A cancelled order's code validates nothing.
func TestSection6CancelledOrder(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	if err := f.Store.Direct().SetOrderStatus(context.Background(), f.order, model.OrderCancelled); err != nil {
		t.Fatal(err)
	}
	wantContains(t, f.submit(n(f.order), f.code), web.PhraseInvalid, "no longer active")
	f.wantValidated(f.order, false)
}
