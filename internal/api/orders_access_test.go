package api_test

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// TestOrdersOfAnotherAccount: bob gets for alice's order, certificate and
// serial exactly what he gets for ones that do not exist, and changes
// nothing; a read-only account may collect but not apply or revoke.
func TestOrdersOfAnotherAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	csrPEM, _ := newCSR(t, "shop.example.com")
	f.offer("shop.example.com")
	got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM,
		"dcvEmailAddress", "admin@example.com", "showCertificateID", "Y", "responseFormat", "1")))
	order, cert := got.Get("orderNumber"), got.Get("certificateID")
	number, _ := strconv.ParseInt(order, 10, 64)
	f.confirm(number)
	col := parseForm(t, f.Post(collectPath, f.as("orderNumber", order, "queryType", "1", "responseFormat", "1")))
	if col.Get("errorCode") != "2" {
		t.Fatalf("collect: %v", col)
	}
	serial := func() string {
		cs, _ := f.Store.CertificatesOfOrder(t.Context(), number)
		return cs[0].Serial
	}()
	bobAs := func(kv ...string) url.Values {
		return form(append([]string{"loginName", bob, "loginPassword", bobPass, "responseFormat", "1"}, kv...)...)
	}
	before := orderCounts(f)
	for _, c := range []struct {
		path     string
		theirs   url.Values
		nonesuch url.Values
		wantCode string
		wantItem string
	}{
		{collectPath, bobAs("orderNumber", order, "queryType", "1"), bobAs("orderNumber", "99999999", "queryType", "1"), "-4", "orderNumber"},
		{collectPath, bobAs("certificateID", cert, "queryType", "1"), bobAs("certificateID", "999999999", "queryType", "1"), "-4", "certificateID"},
		{revokePath, bobAs("orderNumber", order), bobAs("orderNumber", "99999999"), "-4", "orderNumber"},
		{revokePath, bobAs("serialNumber", serial), bobAs("serialNumber", "abcdef"), "-4", "serialNumber"},
		{"/products/!AutoRefund", bobAs("orderNumber", order), bobAs("orderNumber", "99999999"), "-4", "orderNumber"},
		{"/products/!AutoReplaceSSL", bobAs("orderNumber", order), bobAs("orderNumber", "99999999"), "-4", "orderNumber"},
	} {
		a, b := f.Post(c.path, c.theirs), f.Post(c.path, c.nonesuch)
		if a != b {
			t.Errorf("%s: another account's answer differs from a missing one's:\n%s\n%s", c.path, a, b)
		}
		if v := parseForm(t, a); v.Get("errorCode") != c.wantCode || v.Get("errorItem") != c.wantItem {
			t.Errorf("%s: %v", c.path, v)
		}
	}
	if after := orderCounts(f); after != before {
		t.Fatalf("bob changed something: %s -> %s", before, after)
	}

	f.AddAccount("reader", "reader-secret-pass", true)
	ro := func(kv ...string) url.Values {
		return form(append([]string{"loginName", "reader", "loginPassword", "reader-secret-pass", "responseFormat", "1"}, kv...)...)
	}
	if v := parseForm(t, f.Post(applyPath, ro("product", "287", "serverSoftware", "-1", "csr", csrPEM))); v.Get("errorCode") != "-91" {
		t.Fatalf("read-only apply: %v", v)
	}
	if v := parseForm(t, f.Post(collectPath, ro("orderNumber", "99999999", "queryType", "0"))); v.Get("errorCode") != "-4" {
		t.Fatalf("read-only collect: %v", v)
	}
}
