package admin_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/web"
)

// call sends an API request and returns its status and body, or the error
// of a dropped connection.
func (c *ctl) call(path string, form url.Values) (int, string, error) {
	c.T.Helper()
	resp, err := c.Client.Post(c.Server.URL()+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (c *ctl) addFault(rule map[string]any) string {
	c.T.Helper()
	var out struct{ ID string }
	c.want(http.StatusCreated, "POST", "/admin/v1/faults", rule, &out)
	if out.ID == "" {
		c.T.Fatal("no fault id")
	}
	return out.ID
}

type faultsFixture struct {
	*ctl
	order int64
	form  url.Values // a ResendDCVEmail of order
}

func newFaults(t *testing.T) *faultsFixture {
	c := start(t, dcvtest.Options{TestControls: true, ResendBurst: 100})
	c.AddAccount("alice", "pw", false)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	return &faultsFixture{ctl: c, order: order,
		form: url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(order, 10)}}}
}

func (f *faultsFixture) emails() int { f.T.Helper(); return f.Count(0).Deliveries }

const minus14Form = "errorCode=-14&errorMessage=An+unknown+error+occurred%21"

// phase before: the fault answers instead of the call, in the endpoint's
// own format, and nothing changes; times 1 hits once.
func TestFaultBeforeAnswersInsteadOfTheCall(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14})
	before := f.emails()
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != minus14Form {
		t.Fatalf("faulted resend: %q", got)
	}
	if f.emails() != before {
		t.Fatal("a before-phase fault let the resend happen")
	}
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("times 1 hit twice: %q", got)
	}
	var rules []struct {
		ID    string
		Fired int
		Times int
	}
	f.want(http.StatusOK, "GET", "/admin/v1/faults", nil, &rules)
	if len(rules) != 1 || rules[0].Fired != 1 || rules[0].Times != 1 {
		t.Fatalf("rules: %+v", rules)
	}
}

// errorCode answers in the format the request asked for: form, text or
// JSON, with the table's message or the rule's.
func TestFaultAnswersInEachFormat(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	f.addFault(map[string]any{"endpoint": "GetDCVEmailAddressList", "errorCode": -14, "times": 0})
	f.addFault(map[string]any{"endpoint": "GetMDCDomainDetails", "errorCode": -16, "errorMessage": "Try again later", "times": 0})
	list := url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "domainName": {"example.com"}}
	if got := f.Post("/products/!GetDCVEmailAddressList", list); got != "-14\nAn unknown error occurred!\n" {
		t.Fatalf("text: %q", got)
	}
	list.Set("responseFormat", "2")
	if got := f.Post("/products/!GetDCVEmailAddressList", list); got != `{"errorCode":-14,"errorMessage":"An unknown error occurred!"}`+"\n" {
		t.Fatalf("JSON: %q", got)
	}
	details := url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(f.order, 10)}}
	if got := f.Post("/products/!GetMDCDomainDetails", details); got != "errorCode=-16&errorMessage=Try+again+later" {
		t.Fatalf("form: %q", got)
	}
	details.Set("responseFormat", "2")
	status, hdr, got := f.Do("POST", f.Server.URL()+"/products/!GetMDCDomainDetails", "application/x-www-form-urlencoded", details.Encode())
	if status != 200 || got != `{"errorCode":-16,"errorMessage":"Try again later"}`+"\n" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("JSON: %d %q %q", status, hdr.Get("Content-Type"), got)
	}
}

// phase after: the call runs and commits, then its answer is replaced
// (errorCode, httpStatus) or dropped: "did my request happen?"
func TestFaultAfterCommitsThenReplaces(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "phase": "after", "errorCode": -14})
	before := f.emails()
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != minus14Form {
		t.Fatalf("after-phase answer: %q", got)
	}
	if f.emails() != before+1 {
		t.Fatal("an after-phase fault stopped the resend from happening")
	}

	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "phase": "after", "drop": true})
	if _, _, err := f.call("/products/!ResendDCVEmail", f.form); err == nil {
		t.Fatal("a dropped answer arrived")
	}
	if f.emails() != before+2 {
		t.Fatal("a dropped after-phase call did not commit")
	}

	f.addFault(map[string]any{"endpoint": "*", "phase": "after", "httpStatus": 502})
	status, body, err := f.call("/products/!ResendDCVEmail", f.form)
	if err != nil || status != 502 || body != "" {
		t.Fatalf("httpStatus: %d %q %v", status, body, err)
	}
	if f.emails() != before+3 {
		t.Fatal("an after-phase status fault stopped the resend")
	}
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("after the rules were used up: %q", got)
	}
}

// drop and httpStatus before the call: nothing happens.
func TestFaultBeforeDropAndStatus(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	before := f.emails()
	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "drop": true})
	if _, _, err := f.call("/products/!ResendDCVEmail", f.form); err == nil {
		t.Fatal("a dropped request got an answer")
	}
	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "httpStatus": 503})
	if status, body, err := f.call("/products/!ResendDCVEmail", f.form); err != nil || status != 503 || body != "" {
		t.Fatalf("httpStatus: %d %q %v", status, body, err)
	}
	if f.emails() != before {
		t.Fatal("a before-phase fault let the call happen")
	}
}

// delay waits first; a rule with only a delay lets the call answer as
// usual afterwards.
func TestFaultDelay(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "delay": "300ms"})
	before := f.emails()
	t0 := time.Now()
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("delayed call: %q", got)
	}
	if waited := time.Since(t0); waited < 300*time.Millisecond {
		t.Fatalf("answered after %v, before the 300ms delay", waited)
	}
	if f.emails() != before+1 {
		t.Fatal("a delay-only rule stopped the call")
	}
}

// login and orderNumber narrow a rule; times counts hits (0: until
// deleted); rules are checked oldest first; DELETE removes them.
func TestFaultMatchingAndDeletion(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	other := f.AddOrder("alice", []string{"example.net"}, 0, "admin@example.net")
	f.AddAccount("bob", "pw", false)
	bobs := f.AddOrder("bob", []string{"example.org"}, 0, "admin@example.org")
	first := f.addFault(map[string]any{"endpoint": "ResendDCVEmail", "orderNumber": f.order, "errorCode": -14, "times": 0})
	f.addFault(map[string]any{"endpoint": "*", "login": "bob", "errorCode": -91, "times": 2})
	otherForm := url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(other, 10)}}
	bobForm := url.Values{"loginName": {"bob"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(bobs, 10)}}
	for range 3 {
		if got := f.Post("/products/!ResendDCVEmail", f.form); got != minus14Form {
			t.Fatalf("times 0: %q", got)
		}
		if got := f.Post("/products/!ResendDCVEmail", otherForm); got != "errorCode=0" {
			t.Fatalf("a rule for another order hit: %q", got)
		}
	}
	for i := range 3 {
		got := f.Post("/products/!ResendDCVEmail", bobForm)
		if want := i < 2; strings.HasPrefix(got, "errorCode=-91") != want {
			t.Fatalf("bob's call %d: %q", i, got)
		}
	}
	f.wantError(http.StatusNotFound, "DELETE", "/admin/v1/faults/999999", nil)
	f.wantError(http.StatusNotFound, "DELETE", "/admin/v1/faults/abc", nil)
	f.want(http.StatusNoContent, "DELETE", "/admin/v1/faults/"+first, nil, nil)
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("a deleted rule hit: %q", got)
	}
	f.addFault(map[string]any{"endpoint": "*", "errorCode": -14, "times": 0})
	f.want(http.StatusNoContent, "DELETE", "/admin/v1/faults", nil, nil)
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("a rule hit after DELETE of all: %q", got)
	}
}

// The confirmation page takes rules as EnterDCVCode2.
func TestFaultOnThePage(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	code := f.Mailbox(f.order)[0].DCVCode
	form := url.Values{"orderNumber": {strconv.FormatInt(f.order, 10)}, "dcvCode": {code}}.Encode()
	f.addFault(map[string]any{"endpoint": "EnterDCVCode2", "orderNumber": f.order, "httpStatus": 500})
	if status, _, _ := f.Do("POST", f.Server.URL()+web.Path, "application/x-www-form-urlencoded", form); status != 500 {
		t.Fatalf("page status %d, want 500", status)
	}
	f.addFault(map[string]any{"endpoint": "EnterDCVCode2", "phase": "after", "errorCode": -14})
	status, _, body := f.Do("POST", f.Server.URL()+web.Path, "application/x-www-form-urlencoded", form)
	if status != 200 || !strings.Contains(body, "errorCode -14") {
		t.Fatalf("page: %d %s", status, body)
	}
	var v orderView
	f.want(http.StatusOK, "GET", "/admin/v1/orders/"+strconv.FormatInt(f.order, 10), nil, &v)
	if v.Domains[0].Status != "Validated" {
		t.Fatal("the after-phase page call did not confirm")
	}
}

// Bad rules get 400 with a sentence and add nothing.
func TestFaultBadRules(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	for _, rule := range []any{
		`nope`,
		map[string]any{},
		map[string]any{"endpoint": "NoSuchCall", "errorCode": -14},
		map[string]any{"endpoint": "ResendDCVEmail"},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "phase": "during"},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": 5},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -999},
		map[string]any{"endpoint": "ResendDCVEmail", "httpStatus": 42},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "drop": true},
		map[string]any{"endpoint": "ResendDCVEmail", "delay": "forever"},
		map[string]any{"endpoint": "ResendDCVEmail", "delay": "1h"},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "times": -1},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "probability": 0},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "probability": 1.5},
		map[string]any{"endpoint": "ResendDCVEmail", "errorCode": -14, "colour": "red"},
	} {
		f.wantError(http.StatusBadRequest, "POST", "/admin/v1/faults", rule)
	}
	if got := f.want(http.StatusOK, "GET", "/admin/v1/faults", nil, nil); strings.TrimSpace(got) != "[]" {
		t.Fatalf("bad rules were added: %s", got)
	}
	if got := f.Post("/products/!ResendDCVEmail", f.form); got != "errorCode=0" {
		t.Fatalf("after bad rules: %q", got)
	}
}
