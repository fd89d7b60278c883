package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// Bad input gets the documented errorCode and changes nothing: no state,
// no stored email, nothing in the outbox or the mailbox.
func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	f.offer("example.com")
	good := map[string]string{
		"loginName":       alice,
		"loginPassword":   alicePass,
		"orderNumber":     n(f.order),
		"dcvEmailAddress": "webmaster@example.com",
		"dcvTemplateID":   "1",
	}
	order := []string{"loginName", "loginPassword", "orderNumber", "dcvEmailAddress", "dcvTemplateID"}
	tooLong := map[string]string{
		"loginName":       strings.Repeat("l", 65),
		"loginPassword":   strings.Repeat("p", 129),
		"orderNumber":     strings.Repeat("9", 19),
		"dcvEmailAddress": strings.Repeat("a", 64) + "@" + strings.Repeat("b", 187) + ".com", // 256
		"dcvTemplateID":   strings.Repeat("9", 19),
	}
	body := func(param, value string) string {
		v := url.Values{}
		for _, name := range order {
			if name == param {
				v.Set(name, value)
			} else {
				v.Set(name, good[name])
			}
		}
		return v.Encode()
	}
	before := f.Count(f.order)
	for _, param := range order {
		for name, value := range map[string]string{
			"CR":       good[param] + "\r",
			"LF":       good[param] + "\n",
			"CRLF":     "x\r\nBcc: victim@example.org",
			"NUL":      good[param] + "\x00",
			"too long": tooLong[param],
			"bad UTF8": good[param] + "\xff",
		} {
			got := f.PostRaw(resendPath, body(param, value))
			if got != invalidAnswer(param) {
				t.Errorf("%s with %s: %q, want -4 on %s", param, name, got, param)
			}
		}
	}
	// A 1 MiB body is refused with -4 and nothing is read from it.
	huge := "loginName=" + alice + "&loginPassword=" + alicePass + "&orderNumber=" + n(f.order) + "&dcvEmailAddress=" + strings.Repeat("a", 1<<20)
	got := f.PostRaw(resendPath, huge)
	wantBody(t, got, invalidAnswer("dcvEmailAddress")+"&errorDetail=the+request+body+is+larger+than+64+KiB")
	// Over the limit, even a body of valid parameters is refused whole.
	padded := "loginName=" + alice + "&loginPassword=" + alicePass + "&orderNumber=" + n(f.order) + strings.Repeat("&orderNumber="+n(f.order), 6000)
	if len(padded) <= 64<<10 {
		t.Fatal("padded body too small")
	}
	wantBody(t, f.PostRaw(resendPath, padded), invalidAnswer("orderNumber")+"&errorDetail=the+request+body+is+larger+than+64+KiB")
	if after := f.Count(f.order); after != before {
		t.Fatalf("bad input changed state:\n%+v\n%+v", before, after)
	}
}

// docs/api.md §3 with docs/rules.md: names that cannot be validated get
// -4 on domainName and nothing is recorded.
func TestAddressListBadNames(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(0)
	for _, name := range []string{
		strings.Repeat("a", 300) + ".com",
		"exa mple.com",
		"-x.com",
		"1.2.3.4",
		"[::1]",
		"com",
		"*.com",
		"co.uk",
		"example.com\x00",
		"example.com\r\nX: y",
		"example..com",
		"*.*.example.com",
	} {
		got := f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", name))
		if got != "-4\nThe value of the 'domainName' argument is invalid!\n" {
			t.Errorf("%q: %q", name, got)
		}
		got = f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", name, "responseFormat", "2"))
		if got != `{"errorCode":-4,"errorMessage":"The value of the 'domainName' argument is invalid!","errorItem":"domainName"}`+"\n" {
			t.Errorf("%q JSON: %q", name, got)
		}
	}
	got := f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", ""))
	wantBody(t, got, "-3\nThe 'domainName' argument is missing!\n")
	if after := f.Count(0); after != before {
		t.Fatalf("bad names recorded something: %+v -> %+v", before, after)
	}
}
