package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
)

const detailsPath = "/products/!GetMDCDomainDetails"

// details asks GetMDCDomainDetails as alice with extra parameters.
func (f *fixture) details(extra ...string) string {
	f.T.Helper()
	return f.Post(detailsPath, form(append([]string{"loginName", alice, "loginPassword", alicePass}, extra...)...))
}

// lastReply is the mail server's reply to the newest delivery attempt of
// an order (the built-in mailbox's, here).
func (f *fixture) lastReply(order int64) string {
	f.T.Helper()
	as, err := f.Store.AttemptsOfOrder(context.Background(), order)
	if err != nil || len(as) == 0 {
		f.T.Fatalf("no delivery attempt for order %d (%v)", order, err)
	}
	return as[len(as)-1].Reply
}

// docs/api.md §4: one indexed group per domain, in the order's order,
// form-encoded by default; dcvStatus is Awaiting Validation or Validated.
func TestDetailsFormTranscript(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "*.shop.example.org", "www.example.org"}, 0, "admin@example.org")
	f.Drain()
	ctx := context.Background()
	if err := f.Store.Direct().SetDomainMethod(ctx, order, 3, model.MethodHTTPCSRHash); err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.details("orderNumber", n(order)),
		"errorCode=0"+
			"&1_domainName=example.org&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation"+
			"&2_domainName=%2A.shop.example.org&2_dcvMethod=EMAIL&2_dcvStatus=Awaiting+Validation"+
			"&3_domainName=www.example.org&3_dcvMethod=HTTP_CSR_HASH&3_dcvStatus=Awaiting+Validation")
	// showStatusDetails=N is the same answer.
	wantBody(t, f.details("orderNumber", n(order), "showStatusDetails", "N"), f.details("orderNumber", n(order)))

	f.Clock.Advance(90 * time.Minute)
	d := f.domains(order)[0]
	if _, err := f.Store.Direct().ValidateDomains(ctx, order, d.CurrentEmailID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.details("orderNumber", n(order)),
		"errorCode=0"+
			"&1_domainName=example.org&1_dcvMethod=EMAIL&1_dcvStatus=Validated"+
			"&2_domainName=%2A.shop.example.org&2_dcvMethod=EMAIL&2_dcvStatus=Validated"+
			"&3_domainName=www.example.org&3_dcvMethod=HTTP_CSR_HASH&3_dcvStatus=Awaiting+Validation")
}

// docs/api.md §4 with showStatusDetails=Y: the address, the last
// sending and the validation time (RFC 3339 UTC, empty when none), and
// dcvmail's evidence of the last delivery attempt.
func TestDetailsStatusDetailsFormTranscript(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org"}, 0, "admin@www.example.org")
	f.Drain()
	reply := url.QueryEscape(f.lastReply(order))
	if reply == "" {
		t.Fatal("the mailbox gave no reply")
	}
	wantBody(t, f.details("orderNumber", n(order), "showStatusDetails", "Y"),
		"errorCode=0"+
			"&1_domainName=example.org&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation"+
			"&1_dcvEmailAddress=&1_lastSentAt=&1_validatedAt=&1_lastDeliveryStatus=&1_lastDeliveryReply="+
			"&2_domainName=www.example.org&2_dcvMethod=EMAIL&2_dcvStatus=Awaiting+Validation"+
			"&2_dcvEmailAddress=admin%40www.example.org&2_lastSentAt=2026-11-26T12%3A00%3A00Z&2_validatedAt="+
			"&2_lastDeliveryStatus=sent&2_lastDeliveryReply="+reply)

	f.Clock.Advance(36*time.Hour + 1500*time.Millisecond)
	ctx := context.Background()
	d := f.domains(order)[1]
	if _, err := f.Store.Direct().ValidateDomains(ctx, order, d.CurrentEmailID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	got := f.details("orderNumber", n(order), "showstatusdetails", "y")
	if !strings.Contains(got, "&2_dcvStatus=Validated&2_dcvEmailAddress=admin%40www.example.org&2_lastSentAt=2026-11-26T12%3A00%3A00Z&2_validatedAt=2026-11-28T00%3A00%3A01Z&") {
		t.Fatalf("after validation: %s", got)
	}
}

// responseFormat=2: dcvmail's JSON (the vendor's is unpublished), the same
// keys without index in one object per domain.
func TestDetailsJSONTranscript(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"example.org", "www.example.org"}, 0, "admin@example.org")
	f.Drain()
	wantBody(t, f.details("orderNumber", n(order), "responseFormat", "2"),
		`{"errorCode":0,"domains":[`+
			`{"domainName":"example.org","dcvMethod":"EMAIL","dcvStatus":"Awaiting Validation"},`+
			`{"domainName":"www.example.org","dcvMethod":"EMAIL","dcvStatus":"Awaiting Validation"}]}`+"\n")
	reply := f.lastReply(order)
	wantBody(t, f.details("orderNumber", n(order), "responseFormat", "2", "showStatusDetails", "Y"),
		`{"errorCode":0,"domains":[`+
			`{"domainName":"example.org","dcvMethod":"EMAIL","dcvStatus":"Awaiting Validation","dcvEmailAddress":"admin@example.org","lastSentAt":"2026-11-26T12:00:00Z","validatedAt":"","lastDeliveryStatus":"sent","lastDeliveryReply":"`+reply+`"},`+
			`{"domainName":"www.example.org","dcvMethod":"EMAIL","dcvStatus":"Awaiting Validation","dcvEmailAddress":"admin@example.org","lastSentAt":"2026-11-26T12:00:00Z","validatedAt":"","lastDeliveryStatus":"sent","lastDeliveryReply":"`+reply+`"}]}`+"\n")
}

// lastDeliveryStatus is the outcome of the last attempt: a resend queued
// behind a sent message leaves it "sent"; an email queued and never tried
// is "pending", with no lastSentAt.
func TestDetailsPendingDelivery(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	ctx := context.Background()
	later := f.Clock.Now().Add(time.Hour) // due later: the worker leaves it
	d := f.domains(f.order)[0]
	if _, err := f.Store.Direct().Enqueue(ctx, d.CurrentEmailID, d.Recipient, "queued-1@dcvmail.test", later); err != nil {
		t.Fatal(err)
	}
	got := f.details("orderNumber", n(f.order), "showStatusDetails", "Y")
	if !strings.Contains(got, "&1_lastSentAt=2026-11-26T12%3A00%3A00Z&1_validatedAt=&1_lastDeliveryStatus=sent&") {
		t.Fatalf("details: %s", got)
	}
	order := f.AddOrder(alice, []string{"example.net"}, 0, "")
	wantBody(t, f.details("orderNumber", n(order), "showStatusDetails", "Y"),
		"errorCode=0&1_domainName=example.net&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation"+
			"&1_dcvEmailAddress=&1_lastSentAt=&1_validatedAt=&1_lastDeliveryStatus=&1_lastDeliveryReply=")
	err := f.Store.Tx(ctx, func(tx model.Tx) error {
		id, err := tx.CreateEmail(ctx, model.Email{OrderNumber: order, Recipient: "admin@example.net", CodeHash: "not-a-real-hash",
			Subject: "s", Text: "t", Created: f.Clock.Now(), Expires: later})
		if err != nil {
			return err
		}
		if err := tx.SetDomainRecipient(ctx, order, 1, "admin@example.net", "constructed", id); err != nil {
			return err
		}
		_, err = tx.Enqueue(ctx, id, "admin@example.net", "queued-2@dcvmail.test", later)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBody(t, f.details("orderNumber", n(order), "showStatusDetails", "Y"),
		"errorCode=0&1_domainName=example.net&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation"+
			"&1_dcvEmailAddress=admin%40example.net&1_lastSentAt=&1_validatedAt=&1_lastDeliveryStatus=pending&1_lastDeliveryReply=")
}

// GetMDCDomainDetails refusals: the common checks in order, another
// account's order like a missing one, and JSON errors with responseFormat=2.
// Read-only accounts may call it.
func TestDetailsRefusalsAndReadOnly(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	bobsOrder := f.AddOrder(bob, []string{"example.net"}, 0, "admin@example.net")
	wantBody(t, f.details(), "errorCode=-3&errorMessage=The+%27orderNumber%27+argument+is+missing%21&errorItem=orderNumber")
	wantBody(t, f.details("orderNumber", "x"), invalidAnswer("orderNumber"))
	wantBody(t, f.details("orderNumber", n(f.order), "showStatusDetails", "maybe"), invalidAnswer("showStatusDetails"))
	wantBody(t, f.details("orderNumber", n(f.order), "responseFormat", "3"), invalidAnswer("responseFormat"))
	wantBody(t, f.details("orderNumber", n(f.order), "dcvEmailAddress", "admin@example.com"),
		"errorCode=-2&errorMessage=%27dcvEmailAddress%27+is+an+unrecognised+argument%21&errorItem=dcvEmailAddress")
	missing := f.details("orderNumber", "99999999")
	wantBody(t, missing, invalidAnswer("orderNumber")+"&errorDetail=no+such+order+for+this+account")
	wantBody(t, f.details("orderNumber", n(bobsOrder)), missing)
	wantBody(t, f.details("orderNumber", "99999999", "responseFormat", "2"),
		`{"errorCode":-4,"errorMessage":"The value of the 'orderNumber' argument is invalid!","errorItem":"orderNumber","errorDetail":"no such order for this account"}`+"\n")
	wantBody(t, f.Post(detailsPath, form("loginName", alice, "loginPassword", "wrong", "orderNumber", n(f.order))),
		"errorCode=-16&errorMessage=Incorrect+login+details%2C+account+is+locked%2C+password+has+expired%2C+or+your+source+IP+is+blocked%21")
	status, _, got := f.Do("GET", f.Server.URL()+detailsPath, "", "")
	if status != 200 {
		t.Fatalf("GET: HTTP %d", status)
	}
	wantBody(t, got, "errorCode=-17&errorMessage=Request+used+GET+rather+than+POST%21")

	f.AddAccount("reader", "reader-pass", true)
	readers := f.AddOrder("reader", []string{"example.info"}, 0, "admin@example.info")
	wantBody(t, f.Post(detailsPath, form("loginName", "reader", "loginPassword", "reader-pass", "orderNumber", n(readers))),
		"errorCode=0&1_domainName=example.info&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation")
}
