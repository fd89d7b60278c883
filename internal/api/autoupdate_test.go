package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
)

const autoUpdatePath = "/products/!AutoUpdateDCV"

// autoUpdate posts an AutoUpdateDCV as alice with extra parameters.
func (f *fixture) autoUpdate(extra ...string) string {
	f.T.Helper()
	return f.Post(autoUpdatePath, form(append([]string{"loginName", alice, "loginPassword", alicePass}, extra...)...))
}

// liveEmail is the email whose random value would confirm a domain now
// (0 when none), read without changing state.
func (f *fixture) liveEmail(order int64, position int) int64 {
	f.T.Helper()
	for _, d := range f.domains(order) {
		if d.Position == position {
			if !d.Awaiting() {
				return 0
			}
			return d.CurrentEmailID
		}
	}
	f.T.Fatalf("no domain %d in order %d", position, order)
	return 0
}

func missingAnswer(item string) string {
	return "errorCode=-3&errorMessage=The+%27" + item + "%27+argument+is+missing%21&errorItem=" + item
}

// docs/api.md §5 on a single-domain order: domainName may be left out;
// a switch to HTTP_CSR_HASH is recorded and the live random value stops
// covering the domain; switching back to EMAIL with an offered address
// sends a new email with a new value, under ResendDCVEmail's rules.
func TestAutoUpdateSingleDomainToHTTPAndBackToEmail(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	first := f.Mailbox(f.order)
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "newMethod", "HTTP_CSR_HASH"), "errorCode=0")
	d := f.domains(f.order)[0]
	if d.Method != model.MethodHTTPCSRHash || d.Recipient != "" || d.CurrentEmailID != 0 {
		t.Fatalf("after the switch to HTTP: %+v", d)
	}
	if f.liveEmail(f.order, 1) != 0 {
		t.Fatal("the earlier random value still covers the domain")
	}
	wantBody(t, f.details("orderNumber", n(f.order)), "errorCode=0&1_domainName=example.com&1_dcvMethod=HTTP_CSR_HASH&1_dcvStatus=Awaiting+Validation")
	if got := len(f.Mailbox(f.order)); got != len(first) {
		t.Fatalf("a non-email method sent mail: %d messages", got)
	}
	// ResendDCVEmail has nothing to resend now.
	if got := f.resend("orderNumber", n(f.order)); !strings.HasPrefix(got, cannotResendPrefix) {
		t.Fatalf("resend after HTTP: %s", got)
	}

	// Back to EMAIL: the address must have been offered (24-hour rule).
	before := f.Count(f.order)
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "domainName", "example.com", "newMethod", "EMAIL", "newDCVEmailAddress", "webmaster@example.com"),
		invalidAnswer("newDCVEmailAddress")+"&errorDetail=the+address+was+not+offered+to+this+account+for+a+domain+of+this+order+in+the+last+24+hours")
	if after := f.Count(f.order); after != before {
		t.Fatalf("a refused update changed state: %+v -> %+v", before, after)
	}
	f.offer("example.com")
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "domainName", "EXAMPLE.com", "newMethod", "email", "newDCVEmailAddress", "webmaster@example.com"), "errorCode=0")
	d = f.domains(f.order)[0]
	if d.Method != model.MethodEmail || d.Recipient != "webmaster@example.com" || d.Source != "constructed" || d.CurrentEmailID == 0 {
		t.Fatalf("after the switch back: %+v", d)
	}
	msgs := f.Mailbox(f.order)
	last := msgs[len(msgs)-1]
	if len(msgs) != len(first)+1 || last.To != "webmaster@example.com" || last.DCVCode == "" || last.DCVCode == first[0].DCVCode {
		t.Fatalf("want one new email with a new value to webmaster@: %+v", last)
	}
	wantBody(t, f.details("orderNumber", n(f.order)), "errorCode=0&1_domainName=example.com&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation")
	// And ResendDCVEmail resends that one, identically.
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	if msgs := f.Mailbox(f.order); msgs[len(msgs)-1].DCVCode != last.DCVCode {
		t.Fatal("the resend is not the new email")
	}
}

// docs/api.md §5 on a multi-domain order: domainName is needed unless
// domainNames is given; the i-th name gets the i-th method and address;
// only the named domains change.
func TestAutoUpdateMultiDomain(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org", "*.shop.example.org"}, 0, "admin@example.org")
	sent := len(f.Mailbox(order))
	before := f.Count(order)
	wantBody(t, f.autoUpdate("orderNumber", n(order), "newMethod", "CNAME_CSR_HASH"),
		missingAnswer("domainName")+"&errorDetail=the+order+has+several+domains%3B+name+one+with+domainName%2C+or+several+with+domainNames")
	wantBody(t, f.autoUpdate("orderNumber", n(order), "domainName", "shop.example.org", "newMethod", "CNAME_CSR_HASH"),
		invalidAnswer("domainName")+"&errorDetail=shop.example.org+is+not+a+domain+of+this+order")
	if after := f.Count(order); after != before {
		t.Fatalf("refusals changed state: %+v -> %+v", before, after)
	}

	// One domain by domainName; a wildcard is named with its "*.".
	wantBody(t, f.autoUpdate("orderNumber", n(order), "domainName", "*.shop.example.org", "newMethod", "HTTPS_CSR_HASH"), "errorCode=0")
	ds := f.domains(order)
	if ds[0].Method != model.MethodEmail || ds[1].Method != model.MethodEmail || ds[2].Method != model.MethodHTTPSCSRHash {
		t.Fatalf("only the wildcard may change: %+v", ds)
	}

	// Several by the lists, one of them to EMAIL with a new address; "-"
	// holds the place of the address of a non-email method.
	f.offer("www.example.org")
	wantBody(t, f.autoUpdate("baseOrderNumber", n(order),
		"domainNames", "*.shop.example.org www.example.org",
		"newMethods", "CNAME_CSR_HASH, EMAIL",
		"newDCVEmailAddresses", "- hostmaster@www.example.org"), "errorCode=0")
	ds = f.domains(order)
	if ds[0].Method != model.MethodEmail || ds[0].Recipient != "admin@example.org" {
		t.Fatalf("example.org must be left alone: %+v", ds[0])
	}
	if ds[1].Method != model.MethodEmail || ds[1].Recipient != "hostmaster@www.example.org" || ds[1].CurrentEmailID == ds[0].CurrentEmailID {
		t.Fatalf("www.example.org: %+v", ds[1])
	}
	if ds[2].Method != model.MethodCNAMECSRHash || ds[2].CurrentEmailID != 0 {
		t.Fatalf("*.shop.example.org: %+v", ds[2])
	}
	msgs := f.Mailbox(order)
	if len(msgs) != sent+1 || msgs[len(msgs)-1].To != "hostmaster@www.example.org" {
		t.Fatalf("want one new email: %+v", msgs)
	}
	last := msgs[len(msgs)-1]
	if !strings.Contains(last.Text, "www.example.org") || strings.Contains(last.Text, "    example.org\n") || strings.Contains(last.Text, "shop") {
		t.Fatalf("the new email must name www.example.org only:\n%s", last.Text)
	}
	wantBody(t, f.details("orderNumber", n(order)), "errorCode=0"+
		"&1_domainName=example.org&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation"+
		"&2_domainName=www.example.org&2_dcvMethod=EMAIL&2_dcvStatus=Awaiting+Validation"+
		"&3_domainName=%2A.shop.example.org&3_dcvMethod=CNAME_CSR_HASH&3_dcvStatus=Awaiting+Validation")
}

// example.com and *.example.com share an FQDN; AutoUpdateDCV tells them
// apart by the "*.".
func TestAutoUpdateWildcardAndBaseNameStayApart(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "*.example.org"}, 0, "admin@example.org")
	wantBody(t, f.autoUpdate("orderNumber", n(order), "domainName", "*.example.org", "newMethod", "HTTP_CSR_HASH"), "errorCode=0")
	ds := f.domains(order)
	if ds[0].Method != model.MethodEmail || ds[1].Method != model.MethodHTTPCSRHash {
		t.Fatalf("%+v", ds)
	}
}

// docs/api.md §5: list lengths must match (-4 on the list that does not),
// responseFormat is not a parameter (-2), a read-only account gets -91, and
// the one-domain and list forms do not mix. Nothing changes on any error.
func TestAutoUpdateRefusals(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org"}, 0, "admin@example.org")
	f.offer("example.org")
	f.offer("www.example.org")
	before := f.Count(order)
	o := n(order)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fewer methods than names", []string{"orderNumber", o, "domainNames", "example.org www.example.org", "newMethods", "HTTP_CSR_HASH"}, invalidAnswer("newMethods")},
		{"more methods than names", []string{"orderNumber", o, "domainNames", "example.org", "newMethods", "HTTP_CSR_HASH,CNAME_CSR_HASH"}, invalidAnswer("newMethods")},
		{"fewer addresses than names", []string{"orderNumber", o, "domainNames", "example.org www.example.org", "newMethods", "EMAIL,EMAIL", "newDCVEmailAddresses", "admin@example.org"}, invalidAnswer("newDCVEmailAddresses")},
		{"responseFormat", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "HTTP_CSR_HASH", "responseFormat", "2"},
			"errorCode=-2&errorMessage=%27responseFormat%27+is+an+unrecognised+argument%21&errorItem=responseFormat"},
		{"no method", []string{"orderNumber", o, "domainName", "example.org"}, missingAnswer("newMethod")},
		{"no order", []string{"domainName", "example.org", "newMethod", "HTTP_CSR_HASH"}, missingAnswer("orderNumber")},
		{"EMAIL without address", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "EMAIL"}, missingAnswer("newDCVEmailAddress")},
		{"EMAIL in a list without addresses", []string{"orderNumber", o, "domainNames", "example.org", "newMethods", "EMAIL"}, missingAnswer("newDCVEmailAddresses")},
		{"methods without names", []string{"orderNumber", o, "newMethods", "EMAIL"}, missingAnswer("domainNames")},
		{"unknown method", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "WHOIS"}, invalidAnswer("newMethod")},
		{"unknown method in a list", []string{"orderNumber", o, "domainNames", "example.org", "newMethods", "DNS"}, invalidAnswer("newMethods")},
		{"bad address", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "EMAIL", "newDCVEmailAddress", "not-an-address"}, invalidAnswer("newDCVEmailAddress")},
		{"name twice", []string{"orderNumber", o, "domainNames", "example.org EXAMPLE.org", "newMethods", "EMAIL,EMAIL", "newDCVEmailAddresses", "admin@example.org admin@example.org"}, invalidAnswer("domainNames")},
		{"both forms", []string{"orderNumber", o, "domainName", "example.org", "domainNames", "example.org", "newMethods", "HTTP_CSR_HASH"}, invalidAnswer("domainName")},
		{"unknown domain in a list", []string{"orderNumber", o, "domainNames", "example.org mail.example.org", "newMethods", "HTTP_CSR_HASH,HTTP_CSR_HASH"},
			invalidAnswer("domainNames") + "&errorDetail=mail.example.org+is+not+a+domain+of+this+order"},
		{"address not offered", []string{"orderNumber", o, "domainName", "www.example.org", "newMethod", "EMAIL", "newDCVEmailAddress", "owner@example.org"},
			invalidAnswer("newDCVEmailAddress") + "&errorDetail=the+address+was+not+offered+to+this+account+for+a+domain+of+this+order+in+the+last+24+hours"},
		// BR 3.2.2.4.4: admin@www.example.org was offered (for
		// www.example.org), but a mailbox at a child never covers its parent.
		{"address not permitted for that domain", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "EMAIL", "newDCVEmailAddress", "admin@www.example.org"},
			invalidAnswer("newDCVEmailAddress") + "&errorDetail=the+address+is+not+a+permitted+recipient+for+example.org+%28BR+3.2.2.4.4%2C+.13%2C+.14%29"},
		// A later entry's refusal undoes nothing, because nothing was done:
		// the first entry (a valid switch) does not happen either.
		{"second entry refused", []string{"orderNumber", o, "domainNames", "example.org www.example.org", "newMethods", "HTTP_CSR_HASH,EMAIL", "newDCVEmailAddresses", "- postmaster@example.net"},
			invalidAnswer("newDCVEmailAddresses") + "&errorDetail=the+address+was+not+offered+to+this+account+for+a+domain+of+this+order+in+the+last+24+hours"},
		{"template", []string{"orderNumber", o, "domainName", "example.org", "newMethod", "HTTP_CSR_HASH", "dcvTemplateID", "99"},
			invalidAnswer("dcvTemplateID") + "&errorDetail=no+such+template+for+this+account"},
		{"another account's order", []string{"orderNumber", "99999999", "domainName", "example.org", "newMethod", "HTTP_CSR_HASH"},
			invalidAnswer("orderNumber") + "&errorDetail=no+such+order+for+this+account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantBody(t, f.autoUpdate(tc.args...), tc.want)
		})
	}
	if after := f.Count(order); after != before {
		t.Fatalf("refusals changed state: %+v -> %+v", before, after)
	}

	f.AddAccount("reader", "reader-pass", true)
	readers := f.AddOrder("reader", []string{"example.info"}, 0, "admin@example.info")
	wantBody(t, f.Post(autoUpdatePath, form("loginName", "reader", "loginPassword", "reader-pass", "orderNumber", n(readers), "newMethod", "HTTP_CSR_HASH")),
		"errorCode=-91&errorMessage=Permission+denied%21")
}

// A domain already validated keeps its validation: AutoUpdateDCV refuses
// to change it.
func TestAutoUpdateValidatedDomainIsRefused(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	d := f.domains(f.order)[0]
	if _, err := f.Store.Direct().ValidateDomains(context.Background(), f.order, d.CurrentEmailID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "newMethod", "HTTP_CSR_HASH"),
		invalidAnswer("domainName")+"&errorDetail=example.com+is+validated+already")
}

// Switching to EMAIL sends a DCV email, so the per-order resend limit
// (ResendDCVEmail rule 7) applies to it as well.
func TestAutoUpdateEmailCountsTowardsResendLimit(t *testing.T) {
	f := newFixture(t, dcvtest.Options{ResendBurst: 1})
	f.offer("example.com")
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "newMethod", "EMAIL", "newDCVEmailAddress", "hostmaster@example.com"), "errorCode=0")
	before := f.Count(f.order)
	got := f.autoUpdate("orderNumber", n(f.order), "newMethod", "EMAIL", "newDCVEmailAddress", "postmaster@example.com")
	if !strings.HasPrefix(got, cannotResendPrefix+"&errorDetail=") {
		t.Fatalf("over the limit: %s", got)
	}
	if after := f.Count(f.order); after != before {
		t.Fatalf("state changed: %+v -> %+v", before, after)
	}
	// Recording a non-email method sends nothing and is not limited.
	wantBody(t, f.autoUpdate("orderNumber", n(f.order), "newMethod", "HTTP_CSR_HASH"), "errorCode=0")
}

// The list parameters arrive as clients send them: names separated by
// encoded or raw spaces.
func TestAutoUpdateListsParseLeniently(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org"}, 0, "admin@example.org")
	body := "loginName=alice&loginPassword=" + url.QueryEscape(alicePass) + "&orderNumber=" + n(order) +
		"&domainNames=example.org+www.example.org&newMethods=http_csr_hash,HTTPS_CSR_HASH"
	wantBody(t, f.PostRaw(autoUpdatePath, body), "errorCode=0")
	ds := f.domains(order)
	if ds[0].Method != model.MethodHTTPCSRHash || ds[1].Method != model.MethodHTTPSCSRHash {
		t.Fatalf("%+v", ds)
	}
}
