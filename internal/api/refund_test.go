package api_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
)

// TestRefund: an issued order is refunded within the window: cancelled,
// its certificate revoked with cessationOfOperation, the price back on the
// credit; CollectSSL then says -20, a second refund -18.
func TestRefund(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	ctx := context.Background()
	acct, _ := f.Store.AccountByLogin(ctx, alice)
	f.Store.Direct().SetBilling(ctx, acct.ID, model.Billing{Limited: true, CreditCents: 5000})
	csrPEM, _ := newCSR(t, "shop.example.com")
	f.offer("shop.example.com")
	got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM,
		"dcvEmailAddress", "admin@example.com", "responseFormat", "1")))
	number, _ := strconv.ParseInt(got.Get("orderNumber"), 10, 64)
	f.confirm(number)
	c := parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "2", "responseFormat", "1")))
	if c.Get("errorCode") != "2" {
		t.Fatalf("collect: %v", c)
	}
	if b, _ := f.Store.BillingOf(ctx, acct.ID); b.CreditCents != 4000 {
		t.Fatalf("credit after the order: %d", b.CreditCents)
	}
	wantBody(t, f.Post("/products/!AutoRefund", f.as("orderNumber", "99999999")),
		"errorCode=-4&errorMessage=The+value+of+the+%27orderNumber%27+argument+is+invalid%21&errorItem=orderNumber&errorDetail=no+such+order+for+this+account")
	wantBody(t, f.Post("/products/!AutoRefund", f.as("orderNumber", n(number), "refundReasonCode", "3")), "errorCode=0")
	if b, _ := f.Store.BillingOf(ctx, acct.ID); b.CreditCents != 5000 {
		t.Fatalf("credit after the refund: %d", b.CreditCents)
	}
	if c := parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "1", "responseFormat", "1"))); c.Get("errorCode") != "-20" {
		t.Fatalf("collect after the refund: %v", c)
	}
	again := parseForm(t, f.Post("/products/!AutoRefund", f.as("orderNumber", n(number), "responseFormat", "0")))
	if again.Get("errorCode") != "-18" || again.Get("errorMessage") != "This order has already been refunded!" {
		t.Fatalf("second refund: %v", again)
	}
	certs, _ := f.Store.CertificatesOfOrder(ctx, number)
	leaf, _ := x509.ParseCertificate(certs[0].DER)
	list, err := x509.ParseRevocationList(fetch(t, f, leaf.CRLDistributionPoints[0]))
	if err != nil || len(list.RevokedCertificateEntries) != 1 || list.RevokedCertificateEntries[0].ReasonCode != 5 {
		t.Fatalf("CRL after the refund: %v %+v", err, list)
	}
}

// TestDecodeCSR: no login, GET or POST; the count of refusals, the
// refusals, then KEY=value lines; JSON with responseFormat=2.
func TestDecodeCSR(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	csrPEM, _ := newCSR(t, "shop.example.com")
	body := f.Post("/products/!DecodeCSR", url.Values{"csr": {csrPEM}})
	if !strings.HasPrefix(body, "0\nCN=shop.example.com\n") || !strings.Contains(body, "dnsName=shop.example.com\n") {
		t.Fatalf("DecodeCSR: %q", body)
	}
	_, _, get := f.Do(http.MethodGet, f.Server.URL()+"/products/!DecodeCSR?"+url.Values{"csr": {"AAAA"}}.Encode(), "", "")
	wantBody(t, get, "1\n-10 The CSR cannot be decoded!\n")
	var j struct {
		Fields []struct{ Key, Value string }
	}
	if err := json.Unmarshal([]byte(f.Post("/products/!DecodeCSR", url.Values{"csr": {csrPEM}, "responseFormat": {"2"}})), &j); err != nil || j.Fields[0].Value != "shop.example.com" {
		t.Fatalf("JSON: %v %+v", err, j)
	}
	wantBody(t, f.Post("/products/!DecodeCSR", url.Values{"csr": {csrPEM}, "loginName": {"x"}}), "-2\n'loginName' is an unrecognised argument!\n")
}
