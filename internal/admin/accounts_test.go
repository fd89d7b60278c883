package admin_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/cli"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

type accountView struct {
	Login        string     `json:"login"`
	ReadOnly     bool       `json:"readOnly"`
	Disabled     bool       `json:"disabled"`
	Locked       bool       `json:"locked"`
	LockedUntil  *time.Time `json:"lockedUntil"`
	Credit       string     `json:"credit"`
	CustomerPays bool       `json:"customerPays"`
}

func (c *ctl) accounts() []accountView {
	c.T.Helper()
	var list []accountView
	c.want(http.StatusOK, "GET", "/admin/v1/accounts", nil, &list)
	return list
}

// resend calls ResendDCVEmail as login and returns the answer.
func (c *ctl) resend(login, password string, order int64) string {
	c.T.Helper()
	return c.Post("/products/!ResendDCVEmail", url.Values{"loginName": {login}, "loginPassword": {password}, "orderNumber": {strconv.FormatInt(order, 10)}})
}

// An operator's test suite creates, lists, changes and unlocks accounts
// over HTTP, and what it sets is what the API enforces.
func TestAccountsLifecycle(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	var created map[string]string
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "alice-pw", "credit": "100.00"}, &created)
	if created["login"] != "alice" {
		t.Fatalf("created %v", created)
	}
	raw := c.want(http.StatusOK, "GET", "/admin/v1/accounts", nil, nil)
	if strings.Contains(raw, "argon2") || strings.Contains(strings.ToLower(raw), "password") || strings.Contains(raw, "hash") {
		t.Fatalf("the account list shows a password or hash: %s", raw)
	}
	list := c.accounts()
	if len(list) != 1 || list[0].Login != "alice" || list[0].ReadOnly || list[0].Disabled || list[0].Locked || list[0].Credit != "100.00" {
		t.Fatalf("list: %+v", list)
	}

	// The account works on the API; a taken login changes nothing.
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	if got := c.resend("alice", "alice-pw", order); got != "errorCode=0" {
		t.Fatalf("resend: %q", got)
	}
	c.wantError(http.StatusConflict, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "other"})
	if got := c.resend("alice", "alice-pw", order); got != "errorCode=0" {
		t.Fatalf("a refused create changed the password: %q", got)
	}

	// PATCH changes what it names, and answers the account.
	var v accountView
	c.want(http.StatusOK, "PATCH", "/admin/v1/accounts/alice", map[string]any{"readOnly": true, "credit": "12.5", "customerPays": true}, &v)
	if !v.ReadOnly || v.Credit != "12.50" || !v.CustomerPays || v.Disabled {
		t.Fatalf("after PATCH: %+v", v)
	}
	if got := c.resend("alice", "alice-pw", order); !strings.HasPrefix(got, "errorCode=-91") {
		t.Fatalf("read-only account resent: %q", got)
	}
	c.want(http.StatusOK, "PATCH", "/admin/v1/accounts/alice", map[string]any{"readOnly": false, "password": "new-pw"}, &v)
	if got := c.resend("alice", "new-pw", order); got != "errorCode=0" {
		t.Fatalf("new password: %q", got)
	}
	if got := c.resend("alice", "alice-pw", order); !strings.HasPrefix(got, "errorCode=-16") {
		t.Fatalf("old password still works: %q", got)
	}
	c.want(http.StatusOK, "PATCH", "/admin/v1/accounts/alice", map[string]any{"disabled": true}, &v)
	if got := c.resend("alice", "new-pw", order); !strings.HasPrefix(got, "errorCode=-16") {
		t.Fatalf("disabled account got in: %q", got)
	}
	c.want(http.StatusOK, "PATCH", "/admin/v1/accounts/alice", map[string]any{"disabled": false, "credit": "unlimited"}, &v)
	if v.Credit != "unlimited" || v.Disabled {
		t.Fatalf("after PATCH: %+v", v)
	}
}

// Bad input gets 400 with a sentence and changes nothing.
func TestAccountsBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "bob", "password": "bob-pw"}, nil)
	for _, body := range []any{
		`not json`,
		`{"login": "carol", "password": "x"} {"again": 1}`,
		map[string]any{"login": "carol"},
		map[string]any{"login": "", "password": "pw"},
		map[string]any{"login": "has space", "password": "pw"},
		map[string]any{"login": strings.Repeat("a", 65), "password": "pw"},
		map[string]any{"login": "carol", "password": strings.Repeat("p", 129)},
		map[string]any{"login": "carol", "password": "pw", "credit": "-5"},
		map[string]any{"login": "carol", "password": "pw", "credit": "1.234"},
		map[string]any{"login": "carol", "password": "pw", "credit": 100},
		map[string]any{"login": "carol", "password": "pw", "passwordHash": "x"},
		map[string]any{"login": "carol", "password": "pw", "readOnly": "yes"},
	} {
		c.wantError(http.StatusBadRequest, "POST", "/admin/v1/accounts", body)
	}
	for _, body := range []any{`{}`, map[string]any{"credit": "abc"}, map[string]any{"password": ""}, map[string]any{"login": "renamed"}} {
		c.wantError(http.StatusBadRequest, "PATCH", "/admin/v1/accounts/bob", body)
	}
	c.wantError(http.StatusNotFound, "PATCH", "/admin/v1/accounts/nobody", map[string]any{"readOnly": true})
	c.wantError(http.StatusNotFound, "GET", "/admin/v1/accounts/nobody", nil)
	list := c.accounts()
	if len(list) != 1 || list[0].Login != "bob" || list[0].ReadOnly || list[0].Credit != "unlimited" {
		t.Fatalf("bad input changed the accounts: %+v", list)
	}
}

// 20 wrong passwords lock a login name; the list shows it, and unlock ends
// it at once.
func TestAccountsUnlock(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "alice-pw"}, nil)
	order := c.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	for i := range 20 {
		c.resend("alice", "wrong"+strconv.Itoa(i), order)
	}
	if got := c.resend("alice", "alice-pw", order); !strings.HasPrefix(got, "errorCode=-16") {
		t.Fatalf("not locked after 20 failures: %q", got)
	}
	list := c.accounts()
	if len(list) != 1 || !list[0].Locked || list[0].LockedUntil == nil || !list[0].LockedUntil.After(c.Clock.Now()) {
		t.Fatalf("the list does not show the lock: %+v", list)
	}
	c.wantError(http.StatusBadRequest, "POST", "/admin/v1/accounts/alice/unlock", map[string]any{"source": "not-an-ip"})
	c.want(http.StatusNoContent, "POST", "/admin/v1/accounts/alice/unlock", nil, nil)
	if list := c.accounts(); list[0].Locked || list[0].LockedUntil != nil {
		t.Fatalf("still locked in the list: %+v", list)
	}
	if got := c.resend("alice", "alice-pw", order); got != "errorCode=0" {
		t.Fatalf("still locked after unlock: %q", got)
	}
}

type orderView struct {
	OrderNumber int64  `json:"orderNumber"`
	Account     string `json:"account"`
	Domains     []struct {
		Name        string     `json:"domainName"`
		Method      string     `json:"dcvMethod"`
		Status      string     `json:"dcvStatus"`
		Recipient   string     `json:"dcvEmailAddress"`
		Validated   *time.Time `json:"validatedAt"`
		ValidatedBy string     `json:"validatedBy"`
	} `json:"domains"`
	Emails                  []struct{ Recipient string } `json:"emails"`
	OrganizationValidatedAt *time.Time                   `json:"organizationValidatedAt"`
	OrganizationValidatedBy string                       `json:"organizationValidatedBy"`
}

// Orders over HTTP: with dcvEmail the first DCV email is sent, and GET
// answers exactly what `dcvmail order show --json` prints.
func TestOrders(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.AddAccount("alice", "alice-pw", false)
	var made struct {
		OrderNumber int64 `json:"orderNumber"`
	}
	c.want(http.StatusCreated, "POST", "/admin/v1/orders", map[string]any{"account": "alice", "domains": []string{"example.com", "www.example.com"}, "dcvEmail": "admin@example.com"}, &made)
	if made.OrderNumber < 10000001 {
		t.Fatalf("order number %d", made.OrderNumber)
	}
	mail := c.Mailbox(made.OrderNumber)
	if len(mail) != 1 || mail[0].To != "admin@example.com" || mail[0].DCVCode == "" {
		t.Fatalf("first DCV email: %+v", mail)
	}
	var chained struct {
		OrderNumber int64 `json:"orderNumber"`
	}
	c.want(http.StatusCreated, "POST", "/admin/v1/orders", map[string]any{"account": "alice", "domains": []string{"example.org"}, "baseOrder": made.OrderNumber}, &chained)

	path := "/admin/v1/orders/" + strconv.FormatInt(made.OrderNumber, 10)
	var v orderView
	body := c.want(http.StatusOK, "GET", path, nil, &v)
	if v.OrderNumber != made.OrderNumber || v.Account != "alice" || len(v.Domains) != 2 || v.Domains[0].Recipient != "admin@example.com" || len(v.Emails) != 1 {
		t.Fatalf("order: %s", body)
	}
	args := []string{"order", "show", strconv.FormatInt(made.OrderNumber, 10), "--json"}
	if c.DB != "" {
		args = append(args, "--db", c.DB)
	} else {
		args = append(args, "--data", c.Dir)
	}
	var out, errOut bytes.Buffer
	if code := cli.Run(args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("order show: %d: %s", code, errOut.String())
	}
	if out.String() != body {
		t.Fatalf("GET %s differs from order show --json:\n%s\n---\n%s", path, body, out.String())
	}
}

// Bad orders get 400 with a sentence and create nothing.
func TestOrdersBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.AddAccount("alice", "alice-pw", false)
	before := c.Count(0)
	for _, body := range []any{
		`[]`,
		map[string]any{"account": "alice"},
		map[string]any{"domains": []string{"example.com"}},
		map[string]any{"account": "nobody", "domains": []string{"example.com"}},
		map[string]any{"account": "alice", "domains": []string{"not a domain"}},
		map[string]any{"account": "alice", "domains": []string{"example.com"}, "dcvEmail": "someone@elsewhere.test"},
		map[string]any{"account": "alice", "domains": []string{"example.com"}, "dcvEmail": "not-a-mailbox"},
		map[string]any{"account": "alice", "domains": []string{"example.com"}, "baseOrder": 99999999},
		map[string]any{"account": "alice", "domains": []string{"example.com"}, "baseOrder": -1},
		map[string]any{"account": "alice", "domains": []string{"example.com"}, "orderNumber": 5},
	} {
		c.wantError(http.StatusBadRequest, "POST", "/admin/v1/orders", body)
	}
	var n int
	if err := c.Store.QueryRow(t.Context(), `SELECT COUNT(*) FROM orders`, &n); err != nil || n != 0 {
		t.Fatalf("orders after bad input: %d %v", n, err)
	}
	if after := c.Count(0); after != before {
		t.Fatalf("bad input changed %+v to %+v", before, after)
	}
	c.wantError(http.StatusNotFound, "GET", "/admin/v1/orders/10000001", nil)
	c.wantError(http.StatusBadRequest, "GET", "/admin/v1/orders/abc", nil)
	c.wantError(http.StatusNotFound, "GET", "/admin/v1/nothing", nil)
}

// A stranger (no token, wrong Host) gets nothing from any path, and
// changes nothing.
func TestStrangerGetsNothing(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{TestControls: true, AdminToken: "s3cret-admin-token"})
	c.want(http.StatusCreated, "POST", "/admin/v1/accounts", map[string]any{"login": "alice", "password": "pw"}, nil)
	calls := []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/v1/accounts", nil},
		{"POST", "/admin/v1/accounts", map[string]any{"login": "mallory", "password": "pw"}},
		{"PATCH", "/admin/v1/accounts/alice", map[string]any{"password": "owned"}},
		{"POST", "/admin/v1/accounts/alice/unlock", nil},
		{"POST", "/admin/v1/orders", map[string]any{"account": "alice", "domains": []string{"example.com"}}},
		{"GET", "/admin/v1/orders/10000001", nil},
		{"POST", "/admin/v1/reset", nil},
		{"GET", "/admin/v1/clock", nil},
		{"POST", "/admin/v1/clock", map[string]any{"advance": "25h"}},
		{"POST", "/admin/v1/faults", map[string]any{"endpoint": "*", "drop": true, "times": 0}},
		{"GET", "/admin/v1/faults", nil},
		{"DELETE", "/admin/v1/faults", nil},
		{"POST", "/admin/v1/orders/10000001/validate", nil},
	}
	for _, who := range []struct {
		token, host string
		status      int
	}{
		{"", "", http.StatusUnauthorized},
		{"wrong", "", http.StatusUnauthorized},
		{"s3cret-admin-token", "rebind.attacker.example", http.StatusMisdirectedRequest},
	} {
		s := &ctl{Env: c.Env, base: c.base, token: who.token, host: who.host}
		for _, k := range calls {
			s.wantError(who.status, k.method, k.path, k.body)
		}
	}
	if list := c.accounts(); len(list) != 1 || list[0].Login != "alice" {
		t.Fatalf("a stranger changed the accounts: %+v", list)
	}
	var clk struct{ Offset string }
	c.want(http.StatusOK, "GET", "/admin/v1/clock", nil, &clk)
	if clk.Offset != "0s" {
		t.Fatalf("a stranger moved the clock: %+v", clk)
	}
	if got := c.want(http.StatusOK, "GET", "/admin/v1/faults", nil, nil); strings.TrimSpace(got) != "[]" {
		t.Fatalf("a stranger added a fault: %s", got)
	}
}

// Paths and methods that do not exist answer JSON errors too.
func TestUnknownPathsAnswerJSON(t *testing.T) {
	t.Parallel()
	c := start(t, dcvtest.Options{})
	c.wantError(http.StatusNotFound, "GET", "/admin/v1/nothing", nil)
	c.wantError(http.StatusRequestEntityTooLarge, "POST", "/admin/v1/accounts", `{"login": "`+strings.Repeat("a", 70<<10)+`"}`)
	msg := c.wantError(http.StatusMethodNotAllowed, "PUT", "/admin/v1/accounts", map[string]any{})
	if !strings.Contains(msg, "GET") || !strings.Contains(msg, "POST") {
		t.Fatalf("405 does not say the allowed methods: %q", msg)
	}
}
