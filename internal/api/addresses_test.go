package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// docs/api.md §3: the text format, transcript. Levels run from the Base
// Domain Name up; within a level admin, administrator, hostmaster,
// postmaster, webmaster; whois_email is always none.
func TestAddressListTextTranscript(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	status, hdr, got := f.Do("POST", f.Server.URL()+addressesPath, "application/x-www-form-urlencoded",
		form("loginName", alice, "loginPassword", alicePass, "domainName", "*.WWW.Example.co.uk").Encode())
	if status != 200 || hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("HTTP %d %s", status, hdr.Get("Content-Type"))
	}
	want := "0\n" +
		"domain_name\twww.example.co.uk\n" +
		"whois_email\tnone\n" +
		"level2_email\tadmin@example.co.uk\n" +
		"level2_email\tadministrator@example.co.uk\n" +
		"level2_email\thostmaster@example.co.uk\n" +
		"level2_email\tpostmaster@example.co.uk\n" +
		"level2_email\twebmaster@example.co.uk\n" +
		"level3_email\tadmin@www.example.co.uk\n" +
		"level3_email\tadministrator@www.example.co.uk\n" +
		"level3_email\thostmaster@www.example.co.uk\n" +
		"level3_email\tpostmaster@www.example.co.uk\n" +
		"level3_email\twebmaster@www.example.co.uk\n"
	wantBody(t, got, want)
}

// docs/api.md §3: the JSON format, transcript, and the download path.
func TestAddressListJSONTranscript(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	got := f.Post("/products/download/!GetDCVEmailAddressList",
		form("loginName", alice, "loginPassword", alicePass, "domainName", "bücher.example", "responseFormat", "2", "product", "24"))
	want := `{"errorCode":0,"domainName":"xn--bcher-kva.example","whoisEmail":[],` +
		`"level2Emails":["admin@xn--bcher-kva.example","administrator@xn--bcher-kva.example","hostmaster@xn--bcher-kva.example","postmaster@xn--bcher-kva.example","webmaster@xn--bcher-kva.example"],` +
		`"dnsTxtEmails":[],"caaEmails":[]}` + "\n"
	wantBody(t, got, want)
	// Errors keep the asked format.
	wantBody(t, f.Post(addressesPath, form("loginName", alice, "loginPassword", "wrong", "domainName", "example.com", "responseFormat", "2")),
		`{"errorCode":-16,"errorMessage":"Incorrect login details, account is locked, password has expired, or your source IP is blocked!"}`+"\n")
	wantBody(t, f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "example.com", "responseFormat", "3")),
		"-4\nThe value of the 'responseFormat' argument is invalid!\n")
}

// docs/api.md §3: every returned address is recorded with the time, the
// account, the name and its source; an IDN given in U-labels matches the
// A-label offer.
func TestAddressListRecordsOffers(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	order := f.AddOrder(alice, []string{"bücher.example"}, 0, "")
	f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "BÜCHER.example"))
	acct, _ := f.Store.AccountByLogin(context.Background(), alice)
	offers, err := f.Store.OffersOf(context.Background(), acct.ID, "postmaster@xn--bcher-kva.example", f.Clock.Now().Add(-1))
	if err != nil || len(offers) != 1 || offers[0].FQDN != "xn--bcher-kva.example" || offers[0].Source != "constructed" {
		t.Fatalf("offers: %+v %v", offers, err)
	}
	wantBody(t, f.resend("orderNumber", n(order), "dcvEmailAddress", "postmaster@bücher.example"), "errorCode=0")
	msgs := f.Mailbox(order)
	if len(msgs) != 1 || msgs[0].To != "postmaster@xn--bcher-kva.example" || !strings.Contains(msgs[0].Text, "bücher.example") {
		t.Fatalf("mailbox: %+v", msgs)
	}
}
