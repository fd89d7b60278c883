package mailbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/mailbox"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a running dcvmail with the admin listener and one account.
type env struct {
	*dcvtest.Env
	admin string
}

func start(t *testing.T) env {
	t.Helper()
	e := dcvtest.Start(t, dcvtest.Options{AdminListen: true})
	e.AddAccount("alice", "pw-alice", false)
	return env{e, e.Server.AdminURL()}
}

func (e env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return e.do(t, "GET", path, "")
}

func (e env) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e env) json(t *testing.T, path string, v any) {
	t.Helper()
	code, body := e.get(t, path)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestListSearchMessage(t *testing.T) {
	e := start(t)
	o1 := e.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	e.Drain() // captured in this order: the worker delivers a batch in parallel
	o2 := e.AddOrder("alice", []string{"example.org"}, 0, "hostmaster@example.org")
	e.Drain()

	var l mailbox.List
	e.json(t, "/api/v1/messages", &l)
	if l.Total != 2 || l.Unread != 2 || l.Count != 2 || len(l.Messages) != 2 {
		t.Fatalf("list: %+v", l)
	}
	if l.Messages[0].OrderNumber != o2 || l.Messages[1].OrderNumber != o1 {
		t.Fatalf("not newest first: %d, %d", l.Messages[0].OrderNumber, l.Messages[1].OrderNumber)
	}
	s := l.Messages[1]
	if s.To[0].Address != "admin@example.com" || s.From.Address != "dcv@dcvmail.test" || s.DCVCode == "" || s.Read ||
		!strings.Contains(s.Subject, strconv.FormatInt(o1, 10)) || s.Snippet == "" || s.Size == 0 {
		t.Fatalf("summary: %+v", s)
	}
	e.json(t, "/api/v1/messages?start=1&limit=1", &l)
	if len(l.Messages) != 1 || l.Messages[0].OrderNumber != o1 || l.Start != 1 {
		t.Fatalf("page: %+v", l)
	}

	for q, want := range map[string][]int64{
		"to:admin@example.com":                 {o1},
		"to:EXAMPLE":                           {o2, o1},
		"order:" + strconv.FormatInt(o2, 10):   {o2},
		"subject:" + strconv.FormatInt(o1, 10): {o1},
		s.DCVCode:                              {o1},
		"-to:admin@example.com":                {o2},
		`"Domain Control" to:hostmaster`:       {o2},
		"nothing-matches-this":                 {},
		"to:admin@example.com is:unread":       {o1},
	} {
		e.json(t, "/api/v1/search?query="+urlQuery(q), &l)
		var got []int64
		for _, m := range l.Messages {
			got = append(got, m.OrderNumber)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) || l.MessagesCount != len(want) || l.Total != 2 {
			t.Errorf("search %q: %v (count %d), want %v", q, got, l.MessagesCount, want)
		}
	}

	var m mailbox.Message
	e.json(t, "/api/v1/message/latest", &m)
	if m.OrderNumber != o2 || m.To[0].Address != "hostmaster@example.org" || !strings.Contains(m.Text, m.DCVCode) ||
		!strings.Contains(m.HTML, m.DCVCode) || m.Date.IsZero() || m.MessageID == "" || m.Cc == nil {
		t.Fatalf("latest: %+v", m)
	}
	e.json(t, "/api/v1/message/latest?query=to:admin@example.com", &m)
	if m.OrderNumber != o1 {
		t.Fatalf("latest matching: %d", m.OrderNumber)
	}
	e.json(t, "/api/v1/messages", &l)
	if l.Unread != 0 || !l.Messages[0].Read {
		t.Fatalf("opening did not mark read: %+v", l)
	}
	code, raw := e.get(t, "/api/v1/message/"+m.ID+"/raw")
	if code != 200 || !strings.Contains(raw, "Message-ID: <"+m.MessageID+">") {
		t.Fatalf("raw: %d %s", code, raw)
	}
	var h map[string][]string
	e.json(t, "/api/v1/message/"+m.ID+"/headers", &h)
	if h["Auto-Submitted"][0] != "auto-generated" || len(h["Subject"]) != 1 {
		t.Fatalf("headers: %v", h)
	}
	var info mailbox.Info
	e.json(t, "/api/v1/info", &info)
	if info.Messages != 2 || info.Version == "" {
		t.Fatalf("info: %+v", info)
	}
	if code, body := e.get(t, "/api/v1/message/999999"); code != 404 || !strings.Contains(body, `"error"`) {
		t.Fatalf("unknown ID: %d %s", code, body)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22", ":", "%3A", "@", "%40")
	return r.Replace(s)
}

// Bad input gets a 400 with a sentence in {"error"} and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	e := start(t)
	e.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	e.Drain()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/v1/search?query=order:abc", ""},
		{"GET", "/api/v1/search?query=", ""},
		{"GET", "/api/v1/messages?start=-1", ""},
		{"GET", "/api/v1/messages?limit=100000000", ""},
		{"GET", "/api/v1/messages?limit=abc", ""},
		{"GET", "/api/v1/message/abc", ""},
		{"GET", "/api/v1/message/latest?query=order:-3", ""},
		{"GET", "/admin/v1/mailbox/wait?timeout=1h", ""},
		{"GET", "/admin/v1/mailbox/wait?after=x", ""},
		{"GET", "/admin/v1/mailbox/wait?query=order:x", ""},
		{"DELETE", "/api/v1/messages", `{"IDs": ["1", "abc"]}`},
		{"DELETE", "/api/v1/messages", `{"IDs": [`},
		{"GET", "/mailbox?order=abc", ""},
	} {
		code, body := e.do(t, c.method, c.path, c.body)
		var answer struct{ Error string }
		if code != 400 || json.Unmarshal([]byte(body), &answer) != nil || answer.Error == "" {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, code, body)
		}
	}
	var l mailbox.List
	e.json(t, "/api/v1/messages", &l)
	if l.Total != 1 {
		t.Fatalf("bad input changed the mailbox: %+v", l)
	}
	// The legacy endpoint still answers its filter.
	code, body := e.get(t, "/mailbox?order="+strconv.FormatInt(l.Messages[0].OrderNumber, 10))
	if code != 200 || !strings.Contains(body, l.Messages[0].DCVCode) {
		t.Fatalf("/mailbox: %d %s", code, body)
	}
}

func TestDelete(t *testing.T) {
	e := start(t)
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		e.AddOrder("alice", []string{d}, 0, "admin@"+d)
	}
	e.Drain()
	var l mailbox.List
	e.json(t, "/api/v1/messages", &l)
	if code, body := e.do(t, "DELETE", "/api/v1/messages", `{"IDs": ["`+l.Messages[0].ID+`", "999999"]}`); code != 200 || body != "ok" {
		t.Fatalf("delete: %d %s", code, body)
	}
	e.json(t, "/api/v1/messages", &l)
	if l.Total != 2 {
		t.Fatalf("after deleting one: %d", l.Total)
	}
	if code, body := e.do(t, "DELETE", "/api/v1/messages", ""); code != 200 || body != "ok" {
		t.Fatalf("delete all: %d %s", code, body)
	}
	e.json(t, "/api/v1/messages", &l)
	if l.Total != 0 || l.Messages == nil {
		t.Fatalf("after deleting all: %+v", l)
	}
}

// The wait answers as soon as a matching message is captured, newer than
// after; and 408 when none comes.
func TestWait(t *testing.T) {
	e := start(t)
	o1 := e.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	e.Drain()
	var first mailbox.Message
	e.json(t, "/admin/v1/mailbox/wait?query=order:"+strconv.FormatInt(o1, 10), &first)
	if first.OrderNumber != o1 {
		t.Fatalf("wait for an existing message: %+v", first)
	}
	type result struct {
		code int
		body string
		took time.Duration
	}
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		code, body := e.do(t, "GET", "/admin/v1/mailbox/wait?query=to:admin@example.net&after="+first.ID+"&timeout=20s", "")
		done <- result{code, body, time.Since(began)}
	}()
	time.Sleep(200 * time.Millisecond)                                   // the wait is waiting
	e.AddOrder("alice", []string{"example.org"}, 0, "admin@example.org") // does not match
	o3 := e.AddOrder("alice", []string{"example.net"}, 0, "admin@example.net")
	r := <-done
	var m mailbox.Message
	if r.code != 200 || json.Unmarshal([]byte(r.body), &m) != nil || m.OrderNumber != o3 || m.DCVCode == "" {
		t.Fatalf("wait: %d %s", r.code, r.body)
	}
	t.Logf("the wait answered %v after it began (the capture wakes it)", r.took.Round(time.Millisecond))
	code, body := e.get(t, "/admin/v1/mailbox/wait?query=to:nobody@example.com&timeout=300ms")
	if code != 408 || !strings.Contains(body, `"error"`) {
		t.Fatalf("timeout: %d %s", code, body)
	}
}

// A message whose subject, addresses and bodies carry markup is shown as
// text: the page escapes it, and its HTML is only in the sandboxed frame,
// served under a policy without script.
func TestPageEscapesContent(t *testing.T) {
	e := start(t)
	id := hostile(t, e)
	code, page := e.get(t, "/")
	if code != 200 || strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;alert") {
		t.Fatalf("list page: %d\n%s", code, page)
	}
	for _, tab := range []string{"", "?tab=text", "?tab=headers", "?tab=source"} {
		code, page = e.get(t, "/view/"+id+tab)
		if code != 200 || strings.Contains(page, "<script>") || strings.Contains(page, "<img src=x") {
			t.Fatalf("message page %q: %d\n%s", tab, code, page)
		}
	}
	resp, err := http.Get(e.admin + "/view/" + id + "/html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") || strings.Contains(csp, "script") {
		t.Fatalf("frame policy %q", csp)
	}
	resp, _ = http.Get(e.admin + "/")
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("page policy %q", csp)
	}
}

// hostile captures a message whose every part carries markup, as the
// built-in mailbox would store it, and returns its ID.
func hostile(t *testing.T, e env) string {
	t.Helper()
	o := e.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
	e.Drain()
	if code, _ := e.do(t, "DELETE", "/api/v1/messages", ""); code != 200 {
		t.Fatal("delete")
	}
	ds, err := e.Store.DeliveriesOfOrder(context.Background(), o)
	if err != nil || len(ds) == 0 {
		t.Fatal(err)
	}
	subject := `<script>alert("subject")</script> Domain Control Validation`
	text := "Hello <script>alert('text')</script>\r\nValidation code: X1\r\n"
	html := `<p>Hello</p><script>document.title="pwned"</script><img src=x onerror="document.title='pwned'"><p>Validation code: X1</p>`
	raw := "From: \"<b>Eve</b>\" <eve@example.com>\r\nTo: admin@example.com\r\nSubject: " + subject + "\r\n" +
		"Message-ID: <x1@example.com>\r\nDate: Thu, 26 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
		"\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--B--\r\n"
	if err := e.Store.Capture(context.Background(), model.CapturedMail{DeliveryID: ds[0].ID, OrderNumber: o, From: "eve@example.com",
		To: "admin@example.com", Subject: subject, Text: text, HTML: html, MessageID: "x1@example.com", DCVCode: "<i>X1</i>",
		Raw: raw, Captured: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	var l mailbox.List
	e.json(t, "/api/v1/messages", &l)
	if len(l.Messages) != 1 {
		t.Fatalf("%+v", l)
	}
	return l.Messages[0].ID
}
