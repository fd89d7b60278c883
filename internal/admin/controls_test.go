package admin_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
	"github.com/dcvmail/dcvmail/internal/web"
)

// Without --test-controls every control path answers 404 with a sentence
// that says how to turn them on, and does nothing; the server says that
// they are off.
func TestControlsOffByDefault(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.AddAccount("alice", "pw", false)
	for _, k := range []struct{ method, path string }{
		{"POST", "/admin/v1/reset"}, {"GET", "/admin/v1/clock"}, {"POST", "/admin/v1/clock"},
		{"POST", "/admin/v1/orders/1/validate"}, {"POST", "/admin/v1/faults"}, {"GET", "/admin/v1/faults"},
		{"DELETE", "/admin/v1/faults"}, {"DELETE", "/admin/v1/faults/1"},
	} {
		msg := c.wantError(http.StatusNotFound, k.method, k.path, `{"advance": "25h"}`)
		if !strings.Contains(msg, "--test-controls") {
			t.Fatalf("%s %s: %q does not say how to enable the test controls", k.method, k.path, msg)
		}
	}
	if list := c.accounts(); len(list) != 1 {
		t.Fatalf("a refused reset changed the accounts: %+v", list)
	}
	ready := c.want(http.StatusOK, "GET", "/readyz", nil, nil)
	if strings.Contains(ready, "testControls") {
		t.Fatalf("/readyz mentions test controls that are off: %s", ready)
	}
}

// A server with test controls says so in its start log line and /readyz.
func TestControlsAnnounced(t *testing.T) {
	t.Parallel()
	var log syncbuf.Buffer
	c := start(t, dcvtest.Options{TestControls: true, Log: &log})
	var ready struct {
		Ready  bool
		Checks map[string]struct {
			OK     bool
			Detail string
		}
	}
	c.want(http.StatusOK, "GET", "/readyz", nil, &ready)
	if ch, ok := ready.Checks["testControls"]; !ok || !ch.OK || !strings.Contains(ch.Detail, "test-controls") {
		t.Fatalf("/readyz: %+v", ready)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "testControls=true") {
		if time.Now().After(deadline) {
			t.Fatalf("the start log line does not say testControls=true:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var status struct{ TestControls bool }
	c.want(http.StatusOK, "GET", "/status", nil, &status)
	if !status.TestControls {
		t.Fatal("/status does not say testControls")
	}
}

type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

// confirm submits a code on the confirmation page and tells whether it
// confirmed.
func (c *ctl) confirm(order int64, code string) bool {
	c.T.Helper()
	status, _, body := c.Do("POST", c.Server.URL()+web.Path, "application/x-www-form-urlencoded",
		url.Values{"orderNumber": {strconv.FormatInt(order, 10)}, "dcvCode": {code}}.Encode())
	if status != http.StatusOK {
		c.T.Fatalf("page: HTTP %d", status)
	}
	return strings.Contains(body, web.PhraseConfirmed)
}

// The clock: advancing it moves every rule that reads time (here code
// expiry and the resend limit); set moves it to a time; it never runs
// behind the real time; bad input changes nothing.
func TestClock(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	var s clockState
	c.want(http.StatusOK, "GET", "/admin/v1/clock", nil, &s)
	if s.Offset != "0s" || !s.Now.Equal(dcvtest.Epoch) {
		t.Fatalf("clock at start: %+v", s)
	}
	c.AddAccount("alice", "pw", false)
	expiring := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	fresh := c.AddOrder("alice", []string{"example.net"}, 0, "admin@example.net")
	codes := map[int64]string{}
	for _, n := range []int64{expiring, fresh} {
		codes[n] = c.Mailbox(n)[0].DCVCode
	}
	// The resend limit: a burst of 5, then one per minute.
	for i := range 5 {
		if got := c.resend("alice", "pw", fresh); got != "errorCode=0" {
			t.Fatalf("resend %d: %q", i, got)
		}
	}
	if got := c.resend("alice", "pw", fresh); !strings.HasPrefix(got, "errorCode=-47") {
		t.Fatalf("resend over the limit: %q", got)
	}
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "90s"}, &s)
	if s.Offset != "1m30s" || !s.Now.Equal(dcvtest.Epoch.Add(90*time.Second)) {
		t.Fatalf("after advance: %+v", s)
	}
	if got := c.resend("alice", "pw", fresh); got != "errorCode=0" {
		t.Fatalf("the resend limit did not see the clock move: %q", got)
	}

	// Code expiry: past the code's validity it no longer confirms.
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": (dcv.DefaultPolicy.CodeValidity).String()}, &s)
	if c.confirm(expiring, codes[expiring]) {
		t.Fatal("an expired code confirmed after the clock moved past its expiry")
	}
	if got := c.DCV.Now(); !got.Equal(dcvtest.Epoch.Add(90*time.Second + dcv.DefaultPolicy.CodeValidity)) {
		t.Fatalf("the service's clock reads %v", got)
	}

	// set: to a time ahead; never behind the real time.
	at := dcvtest.Epoch.Add(400 * 24 * time.Hour)
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"set": at.Format(time.RFC3339)}, &s)
	if !s.Now.Equal(at) || s.Offset != (400*24*time.Hour).String() {
		t.Fatalf("after set: %+v", s)
	}
	for _, body := range []any{
		map[string]any{"set": dcvtest.Epoch.Add(-time.Hour).Format(time.RFC3339)},
		map[string]any{"advance": "-1h"},
		map[string]any{"advance": "soon"},
		map[string]any{"set": "tomorrow"},
		map[string]any{"advance": "1h", "set": at.Format(time.RFC3339)},
		map[string]any{},
		`{"advance": 3600}`,
	} {
		c.wantError(http.StatusBadRequest, "POST", "/admin/v1/clock", body)
	}
	c.want(http.StatusOK, "GET", "/admin/v1/clock", nil, &s)
	if !s.Now.Equal(at) {
		t.Fatalf("bad input moved the clock: %+v", s)
	}
	if d, err := c.Store.ClockOffset(context.Background()); err != nil || d != 400*24*time.Hour {
		t.Fatalf("stored offset %v %v", d, err)
	}
}

// Another node on the same database, and an admin command, see an advance
// within a short bounded time (clock.DefaultRefresh).
func TestClockSharedByNodes(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	o := dcvtest.Options{TestControls: true, DB: c.DB}
	other := dcvtest.StartIn(t, c.Dir, o)
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "25h"}, nil)
	want := dcvtest.Epoch.Add(25 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for !other.DCV.Now().Equal(want) {
		if time.Now().After(deadline) {
			t.Fatalf("the other node reads %v, want %v", other.DCV.Now(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An admin command opens the database as `dcvmail order add` does.
	url := c.DB
	if url == "" {
		url = "sqlite://" + c.Dir + "/dcvmail.db"
	}
	app, err := server.Open(context.Background(), server.AppOptions{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if got := app.DCV.Now().Sub(time.Now()); got < 25*time.Hour-time.Minute || got > 25*time.Hour+time.Minute {
		t.Fatalf("an admin command's clock is %v ahead of the real time, want 25h", got)
	}
}

// Reset wipes what tests make and keeps keys and templates.
func TestReset(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "pw"}, nil)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	c.Mailbox(order)
	for range 20 {
		c.resend("alice", "wrong", order)
	}
	c.want(http.StatusCreated, "POST", "/admin/v1/faults", map[string]any{"endpoint": "GetMDCDomainDetails", "errorCode": -14}, nil)
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "48h"}, nil)
	if err := c.Store.Tx(context.Background(), func(tx model.Tx) error {
		return tx.PutTemplate(context.Background(), model.Template{ID: 7, Subject: "s {{.OrderNumber}}", Text: "t {{.Code}}", Created: c.Clock.Now()}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	key, _ := c.Store.Setting(context.Background(), "random_value_hmac_key")

	c.want(http.StatusNoContent, "POST", "/admin/v1/reset", nil, nil)

	if list := c.accounts(); len(list) != 0 {
		t.Fatalf("accounts after reset: %+v", list)
	}
	c.wantError(http.StatusNotFound, "GET", "/admin/v1/orders/"+strconv.FormatInt(order, 10), nil)
	var s clockState
	c.want(http.StatusOK, "GET", "/admin/v1/clock", nil, &s)
	if s.Offset != "0s" || !s.Now.Equal(dcvtest.Epoch) {
		t.Fatalf("clock after reset: %+v", s)
	}
	if got := c.want(http.StatusOK, "GET", "/admin/v1/faults", nil, nil); strings.TrimSpace(got) != "[]" {
		t.Fatalf("faults after reset: %s", got)
	}
	for _, table := range []string{"orders", "dcv_emails", "outbox", "mailbox", "login_failures", "address_offers"} {
		var n int
		if err := c.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table, &n); err != nil || n != 0 {
			t.Fatalf("%s after reset: %d %v", table, n, err)
		}
	}
	var templates int
	if err := c.Store.QueryRow(context.Background(), `SELECT COUNT(*) FROM templates`, &templates); err != nil || templates != 1 {
		t.Fatalf("templates after reset: %d %v", templates, err)
	}
	if after, _ := c.Store.Setting(context.Background(), "random_value_hmac_key"); after != key || key == "" {
		t.Fatal("reset changed the random-value key")
	}
	// The same login works afresh, and order numbers start again.
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "pw2"}, nil)
	again := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	if again != order {
		t.Fatalf("order numbers after reset start at %d, want %d", again, order)
	}
	if got := c.resend("alice", "pw2", again); got != "errorCode=0" {
		t.Fatalf("after reset: %q", got)
	}
}

// With --demo, reset seeds the demo data again.
func TestResetReseedsDemo(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{Demo: true})
	c.want(http.StatusNoContent, "POST", "/admin/v1/reset", nil, nil)
	if list := c.accounts(); len(list) != 1 || list[0].Login != server.DemoLogin {
		t.Fatalf("accounts after a demo reset: %+v", list)
	}
	var v orderView
	c.want(http.StatusOK, "GET", "/admin/v1/orders/"+strconv.Itoa(server.DemoOrder), nil, &v)
	if v.Account != server.DemoLogin {
		t.Fatalf("demo order: %+v", v)
	}
	if got := c.resend(server.DemoLogin, server.DemoPassword, server.DemoOrder); got != "errorCode=0" {
		t.Fatalf("demo resend after reset: %q", got)
	}
}

// Validate marks domains validated as if their method had succeeded, with
// evidence that a test control did it; organization: true records the
// OV/EV organization validation.
func TestValidate(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	c.AddAccount("alice", "pw", false)
	order := c.AddOrder("alice", []string{"example.com", "www.example.com", "example.org"}, 0, "")
	if err := c.Store.Direct().SetDomainMethod(context.Background(), order, 1, model.MethodHTTPCSRHash); err != nil {
		t.Fatal(err)
	}
	if err := c.Store.Direct().SetDomainMethod(context.Background(), order, 2, model.MethodCNAMECSRHash); err != nil {
		t.Fatal(err)
	}
	path := "/admin/v1/orders/" + strconv.FormatInt(order, 10)
	c.wantError(http.StatusBadRequest, "POST", path+"/validate", map[string]any{"domain": "other.test"})
	c.wantError(http.StatusBadRequest, "POST", path+"/validate", map[string]any{"domain": 5})
	c.wantError(http.StatusNotFound, "POST", "/admin/v1/orders/99999999/validate", nil)
	c.wantError(http.StatusBadRequest, "POST", "/admin/v1/orders/x/validate", nil)
	var v orderView
	c.want(http.StatusOK, "GET", path, nil, &v)
	for _, d := range v.Domains {
		if d.Validated != nil {
			t.Fatalf("bad input validated %s", d.Name)
		}
	}

	c.want(http.StatusNoContent, "POST", path+"/validate", map[string]any{"domain": "example.com"}, nil)
	c.want(http.StatusOK, "GET", path, nil, &v)
	if d := v.Domains[0]; d.Status != "Validated" || d.ValidatedBy != "test-control" || d.Method != string(model.MethodHTTPCSRHash) || d.Validated == nil || !d.Validated.Equal(dcvtest.Epoch) {
		t.Fatalf("example.com: %+v", d)
	}
	if v.Domains[1].Validated != nil || v.OrganizationValidatedAt != nil {
		t.Fatalf("validated more than asked: %+v", v)
	}
	// Through the API, as an integrator polls it.
	got := c.Post("/products/!GetMDCDomainDetails", url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(order, 10)}})
	if !strings.Contains(got, "Validated") {
		t.Fatalf("GetMDCDomainDetails: %s", got)
	}

	c.want(http.StatusNoContent, "POST", path+"/validate", map[string]any{"organization": true}, nil)
	c.want(http.StatusOK, "GET", path, nil, &v)
	for _, d := range v.Domains {
		if d.Status != "Validated" || d.ValidatedBy != "test-control" {
			t.Fatalf("%s: %+v", d.Name, d)
		}
	}
	if v.OrganizationValidatedAt == nil || v.OrganizationValidatedBy != "test-control" {
		t.Fatalf("organization validation: %+v", v)
	}
}

// Outbox retry reads the test clock: a delivery that failed is retried
// once the clock passes its retry time, and given up past the outbox's
// maximum age.
func TestClockMovesOutboxRetries(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every delivery fails for now
	c := start(t, dcvtest.Options{TestControls: true, SMTP: "smtp://" + addr})
	c.AddAccount("alice", "pw", false)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	attempts := func() (n int, state string) {
		var v struct {
			Deliveries []struct {
				State    string
				Attempts int
			}
		}
		c.want(http.StatusOK, "GET", "/admin/v1/orders/"+strconv.FormatInt(order, 10), nil, &v)
		return v.Deliveries[0].Attempts, v.Deliveries[0].State
	}
	waitFor := func(what string, ok func(n int, state string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, state := attempts()
			if ok(n, state) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d attempts, state %s", what, n, state)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first attempt", func(n int, _ string) bool { return n == 1 })
	// The fake clock stands still: without the test clock no retry is due.
	time.Sleep(300 * time.Millisecond)
	if n, _ := attempts(); n != 1 {
		t.Fatalf("retried before its time: %d attempts", n)
	}
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "1m"}, nil)
	waitFor("retry after the clock moved", func(n int, _ string) bool { return n >= 2 })
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "49h"}, nil)
	waitFor("given up past --mail-max-age", func(_ int, state string) bool { return state == "failed" })
}

// The 24-hour rule reads the test clock: an offered address is accepted
// until the clock passes 24 hours after the offer.
func TestClock24HourRule(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	c.AddAccount("alice", "pw", false)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	c.Post("/products/!GetDCVEmailAddressList", url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "domainName": {"example.com"}})
	resend := url.Values{"loginName": {"alice"}, "loginPassword": {"pw"}, "orderNumber": {strconv.FormatInt(order, 10)}, "dcvEmailAddress": {"webmaster@example.com"}}
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "23h"}, nil)
	if got := c.Post("/products/!ResendDCVEmail", resend); got != "errorCode=0" {
		t.Fatalf("within 24 hours of the offer: %q", got)
	}
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "2h"}, nil)
	if got := c.Post("/products/!ResendDCVEmail", resend); !strings.Contains(got, "errorItem=dcvEmailAddress") {
		t.Fatalf("25 hours after the offer: %q", got)
	}
}

// Lockouts read the test clock: a lock ends when the clock passes its end.
func TestClockEndsLockouts(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true})
	c.AddAccount("alice", "pw", false)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	for i := range 20 {
		c.resend("alice", "wrong"+strconv.Itoa(i), order)
	}
	if got := c.resend("alice", "pw", order); !strings.HasPrefix(got, "errorCode=-16") {
		t.Fatalf("not locked: %q", got)
	}
	c.want(http.StatusOK, "POST", "/admin/v1/clock", map[string]any{"advance": "16m"}, nil)
	if got := c.resend("alice", "pw", order); got != "errorCode=0" {
		t.Fatalf("still locked after the clock passed the lock's end: %q", got)
	}
}
