package api_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// TestReplace: the same key and names are reissued at once under a new
// certificateID (the old certificate stays valid); a new key needs DCV
// again, during which CollectSSL by order answers the newest issued
// certificate, by certificateID the pending one with 0, and another
// replacement -26.
func TestReplace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	const replacePath = "/products/!AutoReplaceSSL"
	csrPEM, _ := newCSR(t, "shop.example.com")
	f.offer("shop.example.com")
	got := parseForm(t, f.Post(applyPath, f.as("product", "287", "serverSoftware", "-1", "csr", csrPEM,
		"dcvEmailAddress", "admin@example.com", "showCertificateID", "Y", "responseFormat", "1")))
	number, _ := strconv.ParseInt(got.Get("orderNumber"), 10, 64)
	first := got.Get("certificateID")
	f.confirm(number)
	collect := func(extra ...string) map[string][]string {
		t.Helper()
		return parseForm(t, f.Post(collectPath, f.as(append([]string{"queryType", "2", "responseFormat", "1"}, extra...)...)))
	}
	c1 := collect("orderNumber", n(number))
	if c1["errorCode"][0] != "2" {
		t.Fatalf("collect: %v", c1)
	}

	r := parseForm(t, f.Post(replacePath, f.as("orderNumber", n(number), "showCertificateID", "Y", "responseFormat", "1")))
	second := r.Get("certificateID")
	if r.Get("errorCode") != "0" || second == "" || second == first {
		t.Fatalf("replace with the same key: %v", r)
	}
	c2 := collect("orderNumber", n(number))
	if c2["errorCode"][0] != "2" || c2["certificate"][0] == c1["certificate"][0] {
		t.Fatalf("the reissue was not issued at once: %v", c2)
	}
	if old := collect("certificateID", first); old["errorCode"][0] != "2" || old["certificate"][0] != c1["certificate"][0] {
		t.Fatalf("the old certificate by its ID: %v", old)
	}

	newKey, _ := newCSR(t, "shop.example.com")
	body := f.Post(replacePath, f.as("orderNumber", n(number), "csr", newKey, "dcvEmailAddress", "admin@example.com", "showCertificateID", "Y"))
	lines := strings.Split(body, "\n") // status, certificateID, expectedDeliveryTime, uniqueValue
	if len(lines) != 5 || lines[0] != "0" || lines[2] != "1" {
		t.Fatalf("replace with a new key (newline answer): %q", body)
	}
	if p := collect("certificateID", lines[1]); p["errorCode"][0] != "0" {
		t.Fatalf("the pending replacement by its ID: %v", p)
	}
	pending := parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "2", "responseFormat", "1")))
	if pending.Get("errorCode") != "2" || pending.Get("certificate") != c2["certificate"][0] {
		t.Fatalf("by order while the replacement awaits DCV: %v", pending)
	}
	if again := parseForm(t, f.Post(replacePath, f.as("orderNumber", n(number), "responseFormat", "1"))); again.Get("errorCode") != "-26" {
		t.Fatalf("replace while one is pending: %v", again)
	}
	f.confirm(number)
	c3 := collect("orderNumber", n(number))
	if c3["errorCode"][0] != "2" || c3["certificate"][0] == c2["certificate"][0] {
		t.Fatalf("after DCV of the replacement: %v", c3)
	}
}
