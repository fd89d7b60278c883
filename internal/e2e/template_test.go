package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `dcvmail template add` as an operator runs it beside the server (the
// file format of docs/templates.md): a template that cannot render is
// refused when it is added; dcvTemplateID selects an added one; an account
// may use only templates open to all or granted to it.
func TestTemplateAddCLI(t *testing.T) {
	data := t.TempDir()
	d := startDcvmail(t, data) // the built-in mailbox
	runCLI(t, "pw-alice\n", "account", "add", "--data", data, "--login", "alice", "--password-stdin")
	runCLI(t, "pw-bob\n", "account", "add", "--data", data, "--login", "bob", "--password-stdin")
	out := runCLI(t, "", "order", "add", "--data", data, "--account", "alice", "--domain", "shop.example", "--dcv-email", "admin@shop.example")
	order, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatal(out)
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	resend := func(extra ...string) string {
		body, err := d.resend(context.Background(), "alice", "pw-alice", order, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}

	for name, content := range map[string]string{
		"syntax.tmpl":  "Subject: Confirm {{.OrderNumber}\n\n{{.Code}}\n",
		"field.tmpl":   "Subject: Confirm\n\n{{.Code}} {{.Password}}\n",
		"nocode.tmpl":  "Subject: Confirm\n\nPlease confirm {{join .Domains \", \"}}.\n",
		"nohead.tmpl":  "Please confirm {{.Code}}\n",
		"badhtml.tmpl": "Subject: Confirm\n\n{{.Code}}\n--- html ---\n<p>{{.Nope}}</p>\n",
	} {
		out, err := runCLIErr("", "template", "add", "--data", data, "--id", "7", "--file", file(name, content))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "bad template") {
			t.Errorf("%s: added (%q, %v)", name, out, err)
		}
	}
	if body := resend("dcvTemplateID", "7"); !strings.HasPrefix(body, "errorCode=-4&") || !strings.Contains(body, "errorItem=dcvTemplateID") {
		t.Fatalf("a refused template is usable: %s", body)
	}
	if _, err := runCLIErr("", "template", "add", "--data", data, "--id", "7", "--file", file("ok.tmpl", "Subject: x\n\n{{.Code}}\n"), "--account", "nobody"); err == nil {
		t.Error("a grant to a missing account was accepted")
	}

	good := "Subject: Shop order {{.OrderNumber}}: confirm {{join .Domains \", \"}}\n\n" +
		"Code {{.Code}} for {{.Recipient}}, valid until {{date .Expires}}.\n{{.Link}}\n" +
		"--- html ---\n<p><a href=\"{{.Link}}\">Confirm</a> with <code>{{.Code}}</code></p>\n"
	runCLI(t, "", "template", "add", "--data", data, "--id", "7", "--file", file("good.tmpl", good), "--account", "alice")
	runCLI(t, "", "template", "add", "--data", data, "--id", "8", "--file", file("bob.tmpl", good), "--account", "bob")
	runCLI(t, "", "template", "add", "--data", data, "--id", "9", "--file", file("all.tmpl", strings.Replace(good, "Shop order", "Order", 1)))

	if body := resend("dcvTemplateID", "8"); !strings.Contains(body, "errorItem=dcvTemplateID") {
		t.Fatalf("alice used bob's template: %s", body)
	}
	for _, id := range []string{"7", "9"} {
		if body := resend("dcvTemplateID", id); body != "errorCode=0" {
			t.Fatalf("template %s: %s", id, body)
		}
	}
	var msgs []struct {
		Subject, Text, HTML, DCVCode string
	}
	out = runCLI(t, "", "mail", "list", "--data", data, "--json", "--order", strconv.FormatInt(order, 10))
	for range 50 { // the worker delivers within a poll
		if json.Unmarshal([]byte(out), &msgs) == nil && len(msgs) == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
		out = runCLI(t, "", "mail", "list", "--data", data, "--json", "--order", strconv.FormatInt(order, 10))
	}
	if len(msgs) != 3 {
		t.Fatalf("mailbox: %s", out)
	}
	n := strconv.FormatInt(order, 10)
	if msgs[1].Subject != "Shop order "+n+": confirm shop.example" || msgs[2].Subject != "Order "+n+": confirm shop.example" {
		t.Errorf("subjects %q, %q", msgs[1].Subject, msgs[2].Subject)
	}
	if !strings.HasPrefix(msgs[1].Text, "Code "+msgs[1].DCVCode+" for admin@shop.example, valid until ") || !strings.Contains(msgs[1].HTML, "<code>"+msgs[1].DCVCode+"</code>") {
		t.Errorf("message: %+v", msgs[1])
	}
	// Another template, another email: new codes each time (wire.md 2, rule 5).
	if msgs[0].DCVCode == msgs[1].DCVCode || msgs[1].DCVCode == msgs[2].DCVCode {
		t.Errorf("codes %q %q %q: a new template must bring a new code", msgs[0].DCVCode, msgs[1].DCVCode, msgs[2].DCVCode)
	}
}
