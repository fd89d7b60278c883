package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
)

const (
	resendPath    = "/products/!ResendDCVEmail"
	addressesPath = "/products/!GetDCVEmailAddressList"
	alice         = "alice"
	alicePass     = "alice-secret-pass"
	bob           = "bob"
	bobPass       = "bob-secret-pass"
)

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func n(i int64) string { return strconv.FormatInt(i, 10) }

// fixture is a server with two accounts and an order of alice's for
// example.com whose first DCV email went to admin@example.com.
type fixture struct {
	*dcvtest.Env
	order int64
}

func newFixture(t *testing.T, o dcvtest.Options) *fixture {
	t.Helper()
	env := dcvtest.Start(t, o)
	env.AddAccount(alice, alicePass, false)
	env.AddAccount(bob, bobPass, false)
	order := env.AddOrder(alice, []string{"example.com"}, 0, "admin@example.com")
	env.Drain()
	return &fixture{Env: env, order: order}
}

// resend posts a ResendDCVEmail as alice with extra parameters.
func (f *fixture) resend(extra ...string) string {
	f.T.Helper()
	v := form(append([]string{"loginName", alice, "loginPassword", alicePass}, extra...)...)
	return f.Post(resendPath, v)
}

// offer asks GetDCVEmailAddressList for a name as alice.
func (f *fixture) offer(name string) string {
	f.T.Helper()
	return f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", name))
}

func (f *fixture) domains(order int64) []model.Domain {
	f.T.Helper()
	ds, err := f.Store.Domains(context.Background(), order)
	if err != nil {
		f.T.Fatal(err)
	}
	return ds
}

func wantBody(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("answer:\n got %q\nwant %q", got, want)
	}
}

// The vendor's sample request, against the demo data, answers exactly
// errorCode=0 and the mailbox then holds two identical messages.
func TestVendorSampleAgainstDemo(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{Demo: true})
	got := env.Post(resendPath, form("loginName", "login_name", "loginPassword", "login_password", "orderNumber", "1234567"))
	wantBody(t, got, "errorCode=0")
	msgs := env.Mailbox(1234567)
	if len(msgs) != 2 {
		t.Fatalf("mailbox has %d messages, want 2", len(msgs))
	}
	a, b := msgs[0], msgs[1]
	if a.DCVCode == "" || a.DCVCode != b.DCVCode || a.Text != b.Text || a.Subject != b.Subject || a.To != "admin@example.com" || a.To != b.To {
		t.Fatalf("messages differ: %+v\n%+v", a, b)
	}
	if len(a.DCVCode) != 26 {
		t.Errorf("dcvCode %q: want 26 characters (128 bits)", a.DCVCode)
	}
}

// docs/api.md §1, -1: an API call over plain HTTP.
func TestError1PlainHTTP(t *testing.T) {
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	before := f.Count(f.order)
	body := form("loginName", alice, "loginPassword", alicePass, "orderNumber", n(f.order)).Encode()
	status, hdr, got := f.Do(http.MethodPost, f.Server.HTTPURL()+resendPath, "application/x-www-form-urlencoded", body)
	if status != 200 || hdr.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("HTTP %d %q", status, hdr.Get("Content-Type"))
	}
	wantBody(t, got, "errorCode=-1&errorMessage=Request+was+not+made+over+https%21")
	// X-Forwarded-Proto from a client that is not a trusted proxy is ignored.
	req, _ := http.NewRequest(http.MethodPost, f.Server.HTTPURL()+resendPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if after := f.Count(f.order); after != before {
		t.Fatalf("plain HTTP changed state: %+v -> %+v", before, after)
	}
}

// docs/api.md §1: a trusted proxy's X-Forwarded-Proto: https counts as
// HTTPS; an untrusted one's is ignored.
func TestTrustedProxyForwardedProto(t *testing.T) {
	for _, tc := range []struct {
		proxy string
		want  string
	}{
		{"127.0.0.0/8", "errorCode=0"},
		{"192.0.2.0/24", "errorCode=-1&errorMessage=Request+was+not+made+over+https%21"},
	} {
		t.Run(tc.proxy, func(t *testing.T) {
			f := newFixture(t, dcvtest.Options{HTTPListen: true, TrustedProxies: []string{tc.proxy}})
			req, _ := http.NewRequest(http.MethodPost, f.Server.HTTPURL()+resendPath,
				strings.NewReader(form("loginName", alice, "loginPassword", alicePass, "orderNumber", n(f.order)).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			wantBody(t, string(b), tc.want)
		})
	}
}

// docs/api.md §1, -17: any method but POST, named in the message.
func TestError17WrongMethod(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	for _, tc := range []struct{ method, want string }{
		{"GET", "errorCode=-17&errorMessage=Request+used+GET+rather+than+POST%21"},
		{"PUT", "errorCode=-17&errorMessage=Request+used+PUT+rather+than+POST%21"},
		{"DELETE", "errorCode=-17&errorMessage=Request+used+DELETE+rather+than+POST%21"},
	} {
		status, _, got := f.Do(tc.method, f.Server.URL()+resendPath+"?loginName=alice", "", "")
		if status != 200 {
			t.Fatalf("%s: HTTP %d", tc.method, status)
		}
		wantBody(t, got, tc.want)
	}
}

// docs/api.md §1, -2: the first unknown parameter in request order, the
// query string before the body.
func TestError2UnknownArgument(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	wantBody(t, f.PostRaw(resendPath, "loginName=alice&foo=1&bar=2"),
		"errorCode=-2&errorMessage=%27foo%27+is+an+unrecognised+argument%21&errorItem=foo")
	wantBody(t, f.PostRaw(resendPath+"?zed=1", "foo=1"),
		"errorCode=-2&errorMessage=%27zed%27+is+an+unrecognised+argument%21&errorItem=zed")
	// responseFormat is not a parameter of ResendDCVEmail.
	wantBody(t, f.resend("orderNumber", n(f.order), "responseFormat", "2"),
		"errorCode=-2&errorMessage=%27responseFormat%27+is+an+unrecognised+argument%21&errorItem=responseFormat")
	// Unknown beats missing: check 3 comes before check 4.
	wantBody(t, f.PostRaw(resendPath, "x=1"),
		"errorCode=-2&errorMessage=%27x%27+is+an+unrecognised+argument%21&errorItem=x")
}

// docs/api.md §1, -3: missing parameters in table order; an empty value
// is missing; with neither order parameter the -3 names orderNumber.
func TestError3MissingArgument(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	for _, tc := range []struct{ body, item string }{
		{"", "loginName"},
		{"loginPassword=x&orderNumber=1", "loginName"},
		{"loginName=&loginPassword=x&orderNumber=1", "loginName"},
		{"loginName=alice&orderNumber=1", "loginPassword"},
		{"loginName=alice&loginPassword=x", "orderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=&baseOrderNumber=", "orderNumber"},
		{"loginName=alice&loginPassword=x&dcvEmailAddress=admin@example.com", "orderNumber"},
	} {
		wantBody(t, f.PostRaw(resendPath, tc.body),
			"errorCode=-3&errorMessage=The+%27"+tc.item+"%27+argument+is+missing%21&errorItem="+tc.item)
	}
}

func invalidAnswer(item string) string {
	return "errorCode=-4&errorMessage=The+value+of+the+%27" + item + "%27+argument+is+invalid%21&errorItem=" + item
}

// docs/api.md §1, -4: malformed or over-long values, checked before
// authentication, in table order.
func TestError4MalformedValue(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	long := strings.Repeat("a", 65)
	for _, tc := range []struct{ body, item string }{
		{"loginName=" + long + "&loginPassword=x&orderNumber=1", "loginName"},
		{"loginName=alice&loginPassword=" + strings.Repeat("p", 129) + "&orderNumber=1", "loginPassword"},
		{"loginName=alice&loginPassword=x&orderNumber=abc", "orderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=0", "orderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=-5", "orderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=1.5", "orderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=99999999999999999999", "orderNumber"},
		{"loginName=alice&loginPassword=x&baseOrderNumber=x1", "baseOrderNumber"},
		{"loginName=alice&loginPassword=x&orderNumber=1&dcvEmailAddress=not-an-address", "dcvEmailAddress"},
		{"loginName=alice&loginPassword=x&orderNumber=1&dcvEmailAddress=Bob+%3Cadmin%40example.com%3E", "dcvEmailAddress"},
		{"loginName=alice&loginPassword=x&orderNumber=1&dcvEmailAddress=admin@" + strings.Repeat("a", 250) + ".com", "dcvEmailAddress"},
		{"loginName=alice&loginPassword=x&orderNumber=1&dcvTemplateID=two", "dcvTemplateID"},
		{"loginName=alice&loginPassword=x&orderNumber=1%ZZ", "orderNumber"},
		// The first malformed value in table order wins.
		{"dcvTemplateID=x&orderNumber=y&loginName=alice&loginPassword=x", "orderNumber"},
	} {
		wantBody(t, f.PostRaw(resendPath, tc.body), invalidAnswer(tc.item))
	}
	if after := f.Count(f.order); after != before {
		t.Fatalf("malformed requests changed state: %+v -> %+v", before, after)
	}
}

// docs/api.md §1: a parameter given twice with different values gets -4;
// the same value twice is accepted.
func TestDuplicateParameter(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	wantBody(t, f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+"&orderNumber=2"), invalidAnswer("orderNumber"))
	wantBody(t, f.PostRaw(resendPath+"?loginName=bob", "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)), invalidAnswer("loginName"))
	// Case-insensitive names are the same parameter.
	wantBody(t, f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+"&ordernumber=2"), invalidAnswer("orderNumber"))
	if after := f.Count(f.order); after != before {
		t.Fatalf("duplicates changed state: %+v -> %+v", before, after)
	}
	wantBody(t, f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+"&orderNumber="+n(f.order)), "errorCode=0")
}

// docs/api.md §1: names match case-insensitively (the vendor's sample
// sends responseformat), bodies with unescaped '@', ':' and '/' are read,
// query parameters merge with the body, and '!' may be %21.
func TestLenientParsing(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	wantBody(t, f.PostRaw(resendPath, "LOGINNAME=alice&loginpassword="+alicePass+"&ORDERNUMBER="+n(f.order)), "errorCode=0")
	wantBody(t, f.PostRaw("/products/%21ResendDCVEmail?loginName=alice", "loginPassword="+alicePass+"&orderNumber="+n(f.order)), "errorCode=0")
	got := f.PostRaw(addressesPath, "loginName=alice&loginPassword="+alicePass+"&domainName=www.example.com&responseformat=2")
	if !strings.HasPrefix(got, `{"errorCode":0,"domainName":"www.example.com"`) {
		t.Fatalf("JSON answer: %s", got)
	}
	f.offer("example.com")
	wantBody(t, f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+"&dcvEmailAddress=webmaster@example.com"), "errorCode=0")
	if d := f.domains(f.order)[0]; d.Recipient != "webmaster@example.com" {
		t.Fatalf("recipient %q", d.Recipient)
	}
}

// docs/api.md §1, -16: unknown login, wrong password and a disabled
// account get one and the same answer.
func TestError16BadLogin(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	want := "errorCode=-16&errorMessage=Incorrect+login+details%2C+account+is+locked%2C+password+has+expired%2C+or+your+source+IP+is+blocked%21"
	wantBody(t, f.Post(resendPath, form("loginName", "nobody", "loginPassword", "x", "orderNumber", n(f.order))), want)
	wantBody(t, f.Post(resendPath, form("loginName", alice, "loginPassword", "wrong", "orderNumber", n(f.order))), want)
	wantBody(t, f.Post(resendPath, form("loginName", "Alice", "loginPassword", alicePass, "orderNumber", n(f.order))), want)
	// A password change takes effect at once, cache or not.
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	ctx := context.Background()
	a, _ := f.Store.AccountByLogin(ctx, alice)
	a.Disabled = true
	if err := f.Store.Direct().UpdateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.resend("orderNumber", n(f.order)), want)
}

// docs/api.md §1, -91: a read-only account may not resend.
func TestError91ReadOnly(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.AddAccount("reader", "reader-pass", true)
	order := f.AddOrder("reader", []string{"example.org"}, 0, "admin@example.org")
	before := f.Count(order)
	wantBody(t, f.Post(resendPath, form("loginName", "reader", "loginPassword", "reader-pass", "orderNumber", n(order))),
		"errorCode=-91&errorMessage=Permission+denied%21")
	if after := f.Count(order); after != before {
		t.Fatalf("state changed: %+v -> %+v", before, after)
	}
	// Reading is allowed.
	if got := f.Post(addressesPath, form("loginName", "reader", "loginPassword", "reader-pass", "domainName", "example.org")); !strings.HasPrefix(got, "0\n") {
		t.Fatalf("address list for read-only account: %q", got)
	}
}

// docs/api.md §1, -14: an internal failure says nothing of its cause
// and gives a request id.
func TestError14Internal(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.Store.Close() // every query now fails
	got := f.resend("orderNumber", n(f.order))
	if !strings.HasPrefix(got, "errorCode=-14&errorMessage=An+unknown+error+occurred%21&errorDetail=request+id+") {
		t.Fatalf("answer %q", got)
	}
	for _, leak := range []string{"sql", "database", "closed", ".go", "/"} {
		if strings.Contains(strings.ToLower(got), leak) {
			t.Fatalf("answer leaks %q: %s", leak, got)
		}
	}
}

// Semantic rule 1: a missing order and another account's get the same -4,
// so order numbers cannot be probed.
func TestRule1OrderOfAnotherAccountIsIndistinguishable(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	bobsOrder := f.AddOrder(bob, []string{"example.net"}, 0, "admin@example.net")
	before := f.Count(bobsOrder)
	missing := f.resend("orderNumber", "99999999")
	other := f.resend("orderNumber", n(bobsOrder))
	wantBody(t, missing, invalidAnswer("orderNumber")+"&errorDetail=no+such+order+for+this+account")
	wantBody(t, other, missing)
	wantBody(t, f.resend("baseOrderNumber", n(bobsOrder)), invalidAnswer("baseOrderNumber")+"&errorDetail=no+such+order+for+this+account")
	if after := f.Count(bobsOrder); after != before {
		t.Fatalf("state changed: %+v -> %+v", before, after)
	}
}

// Semantic rule 1: baseOrderNumber resolves to the newest order of the
// chain; with both given, orderNumber must belong to the chain.
func TestRule1BaseOrderNumberChain(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	reissue := f.AddOrder(alice, []string{"example.com"}, f.order, "admin@example.com")
	other := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	f.Drain()
	before := len(f.Mailbox(reissue))
	wantBody(t, f.resend("baseOrderNumber", n(f.order)), "errorCode=0")
	if got := len(f.Mailbox(reissue)); got != before+1 {
		t.Fatalf("reissue has %d messages, want %d: the base must resolve to the newest order", got, before+1)
	}
	wantBody(t, f.resend("orderNumber", n(f.order), "baseOrderNumber", n(f.order)), "errorCode=0")
	wantBody(t, f.resend("orderNumber", n(other), "baseOrderNumber", n(f.order)),
		invalidAnswer("baseOrderNumber")+"&errorDetail=the+order+is+not+in+this+chain")
	// A reissue's own number is no base.
	wantBody(t, f.resend("baseOrderNumber", n(reissue)), invalidAnswer("baseOrderNumber")+"&errorDetail=no+such+order+for+this+account")
}

const cannotResendPrefix = "errorCode=-47&errorMessage=DCV+emails+cannot+be+resent%21"

// Semantic rule 2: nothing to resend when no domain awaits email
// validation: validated, cancelled or rejected, or another method.
func TestRule2NothingAwaitsValidation(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	ctx := context.Background()
	d := f.domains(f.order)[0]
	if _, err := f.Store.Direct().ValidateDomains(ctx, f.order, d.CurrentEmailID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.resend("orderNumber", n(f.order)), cannotResendPrefix+"&errorDetail=no+domain+of+the+order+awaits+email+validation")

	cancelled := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	f.Store.Direct().SetOrderStatus(ctx, cancelled, model.OrderCancelled)
	wantBody(t, f.resend("orderNumber", n(cancelled)), cannotResendPrefix+"&errorDetail=the+order+is+cancelled")

	http := f.AddOrder(alice, []string{"example.net"}, 0, "")
	f.Store.Direct().SetDomainMethod(ctx, http, 1, model.MethodHTTPCSRHash)
	wantBody(t, f.resend("orderNumber", n(http)), cannotResendPrefix+"&errorDetail=no+domain+of+the+order+awaits+email+validation")
}

// Semantic rule 4: without dcvEmailAddress, an order whose DCV email was
// never sent has nothing to resend.
func TestRule4NeverSent(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org"}, 0, "")
	wantBody(t, f.resend("orderNumber", n(order)), cannotResendPrefix+"&errorDetail=no+DCV+email+was+ever+sent+for+this+order")
	// Choosing an offered address sends the first one.
	f.offer("example.org")
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "hostmaster@example.org"), "errorCode=0")
	if msgs := f.Mailbox(order); len(msgs) != 1 || msgs[0].To != "hostmaster@example.org" {
		t.Fatalf("mailbox: %+v", msgs)
	}
}

// Semantic rule 4: within its validity and with the template unchanged, a
// resend is the identical message: recipient, content and random value.
func TestRule4IdenticalResend(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.Clock.Advance(20 * 24 * time.Hour) // still valid: resending does not restart the clock
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	msgs := f.Mailbox(f.order)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	if msgs[0].DCVCode != msgs[1].DCVCode || msgs[0].Text != msgs[1].Text || msgs[0].HTML != msgs[1].HTML || msgs[0].Subject != msgs[1].Subject || msgs[0].To != msgs[1].To {
		t.Fatal("the resend is not the identical message")
	}
	if msgs[0].MessageID == msgs[1].MessageID {
		t.Error("two sendings share a Message-ID")
	}
}

// Semantic rule 4 with docs/rules.md: once the random value has expired
// (29 days by default, never more than 30 from its creation), a resend is a
// new email with a new value to the same address.
func TestRule4ExpiredValueGetsNewEmail(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	first := f.domains(f.order)[0].CurrentEmailID
	f.Clock.Advance(29*24*time.Hour + time.Second)
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	msgs := f.Mailbox(f.order)
	if len(msgs) != 2 || msgs[1].To != "admin@example.com" || msgs[1].DCVCode == msgs[0].DCVCode || msgs[1].DCVCode == "" {
		t.Fatalf("want a new value to the same address: %+v", msgs)
	}
	d := f.domains(f.order)[0]
	if d.CurrentEmailID == first {
		t.Fatal("the domain still points at the expired email")
	}
	e, err := f.Store.Email(context.Background(), d.CurrentEmailID)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Expires.Sub(e.Created); got != 29*24*time.Hour {
		t.Fatalf("validity %v, want 29 days", got)
	}
}

// Semantic rule 3: an address must have been returned by
// GetDCVEmailAddressList to this account within 24 hours for an awaiting
// domain of the order.
func TestRule3AddressMustBeOfferedWithin24Hours(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	wantRefused := invalidAnswer("dcvEmailAddress") + "&errorDetail=the+address+was+not+offered+to+this+account+for+a+domain+of+this+order+in+the+last+24+hours"
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@example.com"), wantRefused)
	// Offered to another account: not to this one.
	f.Post(addressesPath, form("loginName", bob, "loginPassword", bobPass, "domainName", "example.com"))
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@example.com"), wantRefused)
	// Offered for another name (a child): not for a domain of this order.
	f.offer("www.example.com")
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@example.com"), wantRefused)
	if after := f.Count(f.order); after.Emails != before.Emails || after.Deliveries != before.Deliveries || after.OrderState != before.OrderState {
		t.Fatalf("refusals changed state: %+v -> %+v", before, after)
	}
	f.offer("example.com")
	f.Clock.Advance(24*time.Hour - time.Second)
	// The domain part compares case-insensitively.
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@EXAMPLE.com"), "errorCode=0")
	f.Clock.Advance(2 * time.Second)
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "postmaster@example.com"), wantRefused)
}

// Semantic rule 3: a new address means a new email with a new value, and
// the value sent earlier stops covering the switched domains.
func TestRule3NewAddressNewValue(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	old := f.domains(f.order)[0]
	f.offer("example.com")
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "hostmaster@example.com"), "errorCode=0")
	msgs := f.Mailbox(f.order)
	if len(msgs) != 2 || msgs[1].To != "hostmaster@example.com" || msgs[1].DCVCode == msgs[0].DCVCode {
		t.Fatalf("mailbox: %+v", msgs)
	}
	now := f.domains(f.order)[0]
	if now.CurrentEmailID == old.CurrentEmailID || now.Recipient != "hostmaster@example.com" || now.Source != "constructed" {
		t.Fatalf("domain after switch: %+v", now)
	}
	// The earlier value no longer validates anything.
	if n, err := f.Store.Direct().ValidateDomains(context.Background(), f.order, old.CurrentEmailID, f.Clock.Now()); err != nil || n != 0 {
		t.Fatalf("the superseded email still covers %d domains (%v)", n, err)
	}
	// Resending without an address now goes to the new one, identically.
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	msgs = f.Mailbox(f.order)
	if len(msgs) != 3 || msgs[2].To != "hostmaster@example.com" || msgs[2].DCVCode != msgs[1].DCVCode {
		t.Fatalf("resend after switch: %+v", msgs[2])
	}
}

// Semantic rule 3 with BR 3.2.2.4.4: every awaiting domain for which the
// address is permitted switches; a mailbox at a child name never covers
// its parent.
func TestRule3SwitchesEveryPermittedDomain(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org", "*.shop.example.org"}, 0, "admin@example.org")
	f.offer("www.example.org")
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "admin@www.example.org"), "errorCode=0")
	ds := f.domains(order)
	if ds[0].Recipient != "admin@example.org" || ds[1].Recipient != "admin@www.example.org" || ds[2].Recipient != "admin@example.org" {
		t.Fatalf("only www.example.org may switch: %+v", ds)
	}
	f.offer("shop.example.org")
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "webmaster@example.org"), "errorCode=0")
	ds = f.domains(order)
	for _, d := range ds {
		if d.Recipient != "webmaster@example.org" {
			t.Fatalf("%s: a Base Domain Name address covers every domain: %+v", d.Name, ds)
		}
	}
	// The message to the new address, wherever the worker, which may
	// deliver the queued messages side by side, put it in the mailbox.
	msgs := f.Mailbox(order)
	i := slices.IndexFunc(msgs, func(m model.CapturedMail) bool { return m.To == "webmaster@example.org" })
	if i < 0 {
		t.Fatalf("no message to webmaster@example.org: %+v", msgs)
	}
	for _, name := range []string{"example.org", "www.example.org", "*.shop.example.org"} {
		if !strings.Contains(msgs[i].Text, name) {
			t.Errorf("the email does not name %s", name)
		}
	}
}

// Semantic rule 5: a template must exist and be open to the account; a
// template other than the last one used means a new email with a new value.
func TestRule5Template(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	ctx := context.Background()
	bobAcct, _ := f.Store.AccountByLogin(ctx, bob)
	put := func(id int64, grants ...int64) {
		err := f.Store.Tx(ctx, func(tx model.Tx) error {
			return tx.PutTemplate(ctx, model.Template{ID: id, Subject: "Template {{.OrderNumber}}", Text: "Code {{.Code}} for {{join .Domains \", \"}}", Created: f.Clock.Now()}, grants)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(7)
	put(8, bobAcct.ID)
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvTemplateID", "99"), invalidAnswer("dcvTemplateID")+"&errorDetail=no+such+template+for+this+account")
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvTemplateID", "8"), invalidAnswer("dcvTemplateID")+"&errorDetail=no+such+template+for+this+account")
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvTemplateID", "7"), "errorCode=0")
	msgs := f.Mailbox(f.order)
	if len(msgs) != 2 || msgs[1].Subject != "Template "+n(f.order) || msgs[1].DCVCode == msgs[0].DCVCode || msgs[1].To != msgs[0].To {
		t.Fatalf("template change: %+v", msgs[1])
	}
	// The same template again: identical.
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvTemplateID", "7"), "errorCode=0")
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	msgs = f.Mailbox(f.order)
	if len(msgs) != 4 || msgs[2].DCVCode != msgs[1].DCVCode || msgs[3].DCVCode != msgs[1].DCVCode {
		t.Fatalf("the last-used template must be kept: %+v", msgs)
	}
}

// Semantic rule 6: errorCode=0 is answered only once the outgoing message
// is stored with the state change.
func TestRule6MessageStoredBeforeAnswer(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	after := f.Count(f.order)
	if after.Deliveries != before.Deliveries+1 || after.OrderState == before.OrderState {
		t.Fatalf("answer before the outbox row and state were stored: %+v -> %+v", before, after)
	}
}

// Semantic rule 7: a burst of 5 resends per order, then one per minute;
// over the limit -47 with the time of the next allowed resend.
func TestRule7ResendLimit(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	for range 5 {
		wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	}
	next := f.Clock.Now().Add(time.Minute).Format("2006-01-02T15:04:05Z")
	before := f.Count(f.order)
	wantBody(t, f.resend("orderNumber", n(f.order)), cannotResendPrefix+"&errorDetail=resend+limit+reached%3B+next+resend+allowed+at+"+url.QueryEscape(next))
	if after := f.Count(f.order); after != before {
		t.Fatalf("a refused resend changed state: %+v -> %+v", before, after)
	}
	f.Clock.Advance(time.Minute)
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	if got := f.resend("orderNumber", n(f.order)); !strings.HasPrefix(got, cannotResendPrefix) {
		t.Fatalf("second resend within the minute: %s", got)
	}
	// The limit is per order.
	other := f.AddOrder(alice, []string{"example.org"}, 0, "admin@example.org")
	wantBody(t, f.resend("orderNumber", n(other)), "errorCode=0")
}
