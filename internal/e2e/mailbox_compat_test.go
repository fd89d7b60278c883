package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"crypto/rand"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/mailbox"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

var boundaryRE = regexp.MustCompile(`boundary=([0-9a-zA-Z]+)`)

// tee hands each message to SMTP (the real Mailpit) and then to the
// built-in mailbox: the same bytes reach both.
type tee struct{ smtp, mailbox delivery.Sender }

func (s tee) Send(ctx context.Context, d model.Delivery, m mail.Message) (string, error) {
	reply, err := s.smtp.Send(ctx, d, m)
	if err != nil {
		return reply, err
	}
	_, err = s.mailbox.Send(ctx, d, m)
	return reply, err
}

// A Mailpit client gets the same answers from dcvmail's mailbox API as from
// Mailpit itself, for the same DCV emails: each delivery goes through the
// real outbox worker to the real Mailpit over SMTP and into dcvmail's
// built-in mailbox, then both APIs are asked the same questions and their
// JSON is compared field by field.
//
// Not compared, by nature: ID (each store names its messages), Created
// (each stamps its own arrival), Size and the Received and Return-Path
// headers (Mailpit prepends those two headers to what it receives; the
// sources are compared without them, which makes the sizes equal), and
// the MIME boundary (drawn anew at each composition; Mailpit's copy is
// compared with dcvmail's boundary put in its place), and the info's runtime figures (Version, Database, DatabaseSize,
// RuntimeStats, LatestVersion). dcvmail's own OrderNumber and DCVCode are
// extra fields, and order:N is dcvmail's own search term.
func TestMailboxMatchesMailpit(t *testing.T) {
	mp := startMailpit(t)
	ctx := context.Background()
	data := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(ctx, server.AppOptions{
		DatabaseURL: store.SQLiteURL(filepath.Join(data, "dcvmail.db")),
		PublicURL:   "https://localhost:8443",
		MailFrom:    "DCV Team <dcv@dcvmail.test>",
		Log:         log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	hash, _ := accounts.HashPassword("pw", rand.Reader)
	if _, err := app.Store.Direct().CreateAccount(ctx, model.Account{Login: "alice", PasswordHash: hash, Created: app.DCV.Now()}); err != nil {
		t.Fatal(err)
	}
	smtp, err := delivery.NewSMTP(delivery.SMTPConfig{URL: "smtp://" + mp.SMTPAddr + "?tls=none", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	w := &delivery.Worker{Store: app.Store, Clock: clock.System, From: "DCV Team <dcv@dcvmail.test>", Owner: "compat", Log: log,
		Sender: tee{smtp, &delivery.Mailbox{Store: app.Store, Clock: clock.System, Codes: app.DCV.RandomValues().Find}}}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	// One order at a time, each delivered to both before the next: the
	// worker sends over several connections at once, so two messages queued
	// together may reach Mailpit and the capture in different orders.
	for i, d := range []string{"example.com", "example.org"} {
		if _, err := app.DCV.CreateOrder(ctx, dcv.NewOrder{Login: "alice", Domains: []string{d, "www." + d}, DCVEmail: "admin@" + d}); err != nil {
			t.Fatal(err)
		}
		w.Wake()
		mp.waitTotal(t, i+1, 30*time.Second)
		deadline := time.Now().Add(10 * time.Second)
		for n := 1; n > 0; n, _ = app.Store.PendingDeliveries(ctx) {
			if time.Now().After(deadline) {
				t.Fatal("outbox not drained")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // distinct capture times, as in Mailpit
	}
	stop()
	<-done
	dv := httptest.NewServer(mailbox.New(mailbox.Config{Store: app.Store, Log: log}))
	defer dv.Close()

	ask := func(base, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	both := func(method, path, body string) (mpBody, dvBody string) {
		t.Helper()
		c1, b1 := ask(mp.API, method, path, body)
		c2, b2 := ask(dv.URL, method, path, body)
		if c1 != 200 || c2 != 200 {
			t.Fatalf("%s %s: Mailpit %d %s; dcvmail %d %s", method, path, c1, b1, c2, b2)
		}
		return b1, b2
	}
	// skip lists the fields not compared (see above).
	skip := map[string]bool{"ID": true, "Created": true, "Size": true}
	compareJSON := func(what, a, b string, ignore map[string]bool) {
		t.Helper()
		var ma, mb any
		if err := json.Unmarshal([]byte(a), &ma); err != nil {
			t.Fatalf("%s: Mailpit: %v: %s", what, err, a)
		}
		if err := json.Unmarshal([]byte(b), &mb); err != nil {
			t.Fatalf("%s: dcvmail: %v: %s", what, err, b)
		}
		compared := diff(t, what, ma, mb, ignore)
		t.Logf("%s: %d fields equal", what, compared)
	}

	// The lists, before anything is read.
	a, b := both("GET", "/api/v1/messages", "")
	compareJSON("GET /api/v1/messages", a, b, skip)
	var mpList, dvList mailbox.List
	json.Unmarshal([]byte(a), &mpList)
	json.Unmarshal([]byte(b), &dvList)
	if len(mpList.Messages) != 2 || len(dvList.Messages) != 2 {
		t.Fatalf("lists: %d and %d messages", len(mpList.Messages), len(dvList.Messages))
	}
	// --mail-from with a display name once made Message-IDs end in ">>".
	if _, raw := ask(dv.URL, "GET", "/api/v1/message/latest/raw", ""); !regexp.MustCompile(`\r\nMessage-ID: <[0-9a-f]+@dcvmail\.test>\r\n`).MatchString(raw) {
		t.Errorf("Message-ID header malformed:\n%s", raw[:min(len(raw), 400)])
	}
	a, b = both("GET", "/api/v1/messages?start=1&limit=1", "")
	compareJSON("GET /api/v1/messages?start=1&limit=1", a, b, skip)
	for _, q := range []string{"to:admin@example.com", "subject:Validation", "example.org", `"Domain Control"`, "-to:admin@example.com", "nothing-matches"} {
		a, b = both("GET", "/api/v1/search?query="+url.QueryEscape(q), "")
		compareJSON("search "+q, a, b, skip)
	}

	// Each message, its headers and its source.
	for i := range mpList.Messages {
		mid, did := mpList.Messages[i].ID, dvList.Messages[i].ID
		_, h1 := ask(mp.API, "GET", "/api/v1/message/"+mid+"/headers", "")
		_, h2 := ask(dv.URL, "GET", "/api/v1/message/"+did+"/headers", "")
		// Each composition of a message draws a new MIME boundary, so the
		// copies differ in it alone: Mailpit's is replaced by dcvmail's.
		b1, b2 := boundaryRE.FindStringSubmatch(h1), boundaryRE.FindStringSubmatch(h2)
		if b1 == nil || b2 == nil {
			t.Fatalf("no boundary in %s or %s", h1, h2)
		}
		h1 = strings.ReplaceAll(h1, b1[1], b2[1])
		compareJSON("headers", h1, h2, map[string]bool{"Received": true, "Return-Path": true})
		_, r1 := ask(mp.API, "GET", "/api/v1/message/"+mid+"/raw", "")
		_, r2 := ask(dv.URL, "GET", "/api/v1/message/"+did+"/raw", "")
		r1 = strings.ReplaceAll(r1, b1[1], b2[1])
		if stripped := stripLeading(r1, "Return-Path", "Received"); stripped != r2 {
			t.Errorf("raw sources differ beyond Mailpit's Return-Path and Received:\nMailpit:\n%s\ndcvmail:\n%s", stripped, r2)
		}
		_, m1 := ask(mp.API, "GET", "/api/v1/message/"+mid, "")
		_, m2 := ask(dv.URL, "GET", "/api/v1/message/"+did, "")
		compareJSON("GET /api/v1/message/{ID}", m1, m2, skip)
	}
	a, b = both("GET", "/api/v1/message/latest", "")
	compareJSON("GET /api/v1/message/latest", a, b, skip)
	a, b = both("GET", "/api/v1/messages", "")
	compareJSON("GET /api/v1/messages after reading", a, b, skip)
	a, b = both("GET", "/api/v1/info", "")
	compareJSON("GET /api/v1/info", a, b, map[string]bool{"Version": true, "LatestVersion": true, "Database": true, "DatabaseSize": true, "RuntimeStats": true})

	// Deleting: one by ID, then all; both answer "ok" and agree after.
	c1, d1 := ask(mp.API, "DELETE", "/api/v1/messages", `{"IDs": ["`+mpList.Messages[0].ID+`"]}`)
	c2, d2 := ask(dv.URL, "DELETE", "/api/v1/messages", `{"IDs": ["`+dvList.Messages[0].ID+`"]}`)
	if c1 != c2 || d1 != d2 {
		t.Errorf("delete by ID: Mailpit %d %q, dcvmail %d %q", c1, d1, c2, d2)
	}
	a, b = both("GET", "/api/v1/messages", "")
	compareJSON("GET /api/v1/messages after deleting one", a, b, skip)
	a, b = both("DELETE", "/api/v1/messages", "")
	if a != b {
		t.Errorf("delete all: Mailpit %q, dcvmail %q", a, b)
	}
	a, b = both("GET", "/api/v1/messages", "")
	compareJSON("GET /api/v1/messages after deleting all", a, b, skip)
}

// diff compares Mailpit's value a with dcvmail's b: every field Mailpit
// answers must be in dcvmail's answer with the same value, except the
// ignored names. It returns how many leaf values it compared.
func diff(t *testing.T, path string, a, b any, ignore map[string]bool) int {
	t.Helper()
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			t.Errorf("%s: Mailpit has an object, dcvmail %T", path, b)
			return 0
		}
		keys := make([]string, 0, len(av))
		for k := range av {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := 0
		for _, k := range keys {
			if ignore[k] {
				continue
			}
			if _, ok := bv[k]; !ok {
				t.Errorf("%s.%s: missing from dcvmail's answer (Mailpit: %v)", path, k, av[k])
				continue
			}
			n += diff(t, path+"."+k, av[k], bv[k], ignore)
		}
		return n
	case []any:
		bv, ok := b.([]any)
		if !ok || len(bv) != len(av) {
			t.Errorf("%s: Mailpit %v, dcvmail %v", path, a, b)
			return 0
		}
		n := 0
		for i := range av {
			n += diff(t, fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], ignore)
		}
		return n
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: Mailpit %#v, dcvmail %#v", path, a, b)
	}
	return 1
}

// stripLeading removes the named header fields (with their folded lines)
// from the start of a message.
func stripLeading(raw string, names ...string) string {
	for {
		i := strings.Index(raw, ":")
		if i < 0 {
			return raw
		}
		name := raw[:i]
		drop := false
		for _, n := range names {
			drop = drop || strings.EqualFold(name, n)
		}
		if !drop {
			return raw
		}
		end := strings.Index(raw, "\r\n")
		for end >= 0 && end+2 < len(raw) && (raw[end+2] == ' ' || raw[end+2] == '\t') {
			next := strings.Index(raw[end+2:], "\r\n")
			if next < 0 {
				break
			}
			end += 2 + next
		}
		raw = raw[end+2:]
	}
}
