package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/sps"
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
	// resend with a template returns "" on success, else the errorItem of
	// the refusal.
	resend := func(template int64) string {
		err := d.resend(context.Background(), "alice", "pw-alice", sps.ResendDCVEmailRequest{OrderNumber: order, DCVTemplateID: template})
		var apiErr *sps.Error
		switch {
		case err == nil:
			return ""
		case errors.As(err, &apiErr) && apiErr.Code == -4:
			return apiErr.Item
		}
		t.Fatal(err)
		return ""
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
	if item := resend(7); item != "dcvTemplateID" {
		t.Fatalf("a refused template is usable: %q", item)
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

	if item := resend(8); item != "dcvTemplateID" {
		t.Fatalf("alice used bob's template: %q", item)
	}
	for _, id := range []int64{7, 9} {
		if item := resend(id); item != "" {
			t.Fatalf("template %d refused on %s", id, item)
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
	// Another template, another email: new codes each time (docs/api.md §2, rule 5).
	if msgs[0].DCVCode == msgs[1].DCVCode || msgs[1].DCVCode == msgs[2].DCVCode {
		t.Errorf("codes %q %q %q: a new template must bring a new code", msgs[0].DCVCode, msgs[1].DCVCode, msgs[2].DCVCode)
	}
}
