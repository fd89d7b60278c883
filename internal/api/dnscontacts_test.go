package api_test

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// dnsFixture is a server whose DNS contacts come from a loopback DNS server
// holding a TXT contact for www.example.com and a CAA contact for
// example.com.
func dnsFixture(t *testing.T) (*fixture, *dnstest.Server) {
	t.Helper()
	dnsSrv := dnstest.Start(t,
		`_validation-contactemail.www.example.com. TXT "txt-contact@contacts.example.net"`,
		`example.com. CAA 0 contactemail "caa-contact@contacts.example.net"`,
	)
	// A validating resolver: DNSSEC is required at the fake clock's date.
	dnsSrv.SetAD(true)
	return newFixture(t, dcvtest.Options{Resolvers: []string{dnsSrv.Addr()}}), dnsSrv
}

// docs/api.md §3: DNS contacts appear in the JSON format only, with
// their lists; the text format is unchanged.
func TestAddressListDNSContactsInJSONOnly(t *testing.T) {
	f, _ := dnsFixture(t)
	got := f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "www.example.com", "responseFormat", "2"))
	if !strings.HasSuffix(got, `"dnsTxtEmails":["txt-contact@contacts.example.net"],"caaEmails":["caa-contact@contacts.example.net"]}`+"\n") {
		t.Fatalf("JSON: %s", got)
	}
	text := f.offer("www.example.com")
	if strings.Contains(text, "contacts.example.net") || strings.Count(text, "\n") != 13 {
		t.Fatalf("text format carries DNS contacts or lost lines:\n%s", text)
	}
}

// BR 3.2.2.4.14 / 3.2.2.4.13: ResendDCVEmail accepts a DNS contact offered
// within 24 hours exactly as a constructed address, records by which method
// it qualified, and a contact covers only the name it was found for.
func TestResendToDNSContact(t *testing.T) {
	f, _ := dnsFixture(t)
	order := f.AddOrder(alice, []string{"example.com", "www.example.com"}, 0, "admin@example.com")
	// Not yet offered: refused.
	if got := f.resend("orderNumber", n(order), "dcvEmailAddress", "txt-contact@contacts.example.net"); !strings.HasPrefix(got, invalidAnswer("dcvEmailAddress")) {
		t.Fatalf("unoffered DNS contact: %s", got)
	}
	f.offer("www.example.com")
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "txt-contact@contacts.example.net"), "errorCode=0")
	ds := f.domains(order)
	if ds[0].Recipient != "admin@example.com" || ds[1].Recipient != "txt-contact@contacts.example.net" || ds[1].Source != "dns-txt" {
		t.Fatalf("a TXT contact of www.example.com covers only it: %+v", ds)
	}
	f.offer("example.com")
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "caa-contact@contacts.example.net"), "errorCode=0")
	ds = f.domains(order)
	if ds[0].Recipient != "caa-contact@contacts.example.net" || ds[0].Source != "dns-caa" {
		t.Fatalf("CAA contact: %+v", ds[0])
	}
	// The contact's own domain is never treated as validated or offered.
	if got := f.offer("contacts.example.net"); strings.Contains(got, "txt-contact") {
		t.Fatalf("contact's own domain: %s", got)
	}
}

// docs/rules.md: SERVFAIL is never read as "no record": the JSON answer
// carries a warning and the call still succeeds with what it has.
func TestAddressListWarnsOnDNSFailure(t *testing.T) {
	f, dnsSrv := dnsFixture(t)
	dnsSrv.Fail("_validation-contactemail.www.example.com.", dns.RcodeServerFailure)
	got := f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "www.example.com", "responseFormat", "2"))
	if !strings.HasPrefix(got, `{"errorCode":0,`) || !strings.Contains(got, `"dnsTxtEmails":[]`) || !strings.Contains(got, `"warnings":["`) {
		t.Fatalf("JSON: %s", got)
	}
	if !strings.Contains(got, `"caaEmails":["caa-contact@contacts.example.net"]`) {
		t.Fatalf("a failed TXT lookup must not lose the CAA contact: %s", got)
	}
}

// docs/rules.md: from 2026-03-15 contact lookups must be DNSSEC-validated;
// answers without the AD bit are dropped, with a warning.
func TestDNSContactsNeedDNSSECOnceRequired(t *testing.T) {
	f, dnsSrv := dnsFixture(t)
	dnsSrv.SetAD(false)
	got := f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "www.example.com", "responseFormat", "2"))
	if !strings.Contains(got, `"dnsTxtEmails":[],"caaEmails":[]`) || !strings.Contains(got, `"warnings":[`) {
		t.Fatalf("unvalidated answers were used: %s", got)
	}
}
