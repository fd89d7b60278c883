package mail_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/mail"
)

// The file format of `dcvmail template add`, as docs/templates.md shows it.
func TestParseTemplateFile(t *testing.T) {
	file := "Subject: Please confirm {{join .Domains \", \"}} (order {{.OrderNumber}})\n" +
		"\n" +
		"Open {{.Link}}\n" +
		"or enter {{.Code}} at {{.PageURL}} before {{date .Expires}}.\n" +
		"Sent to {{.Recipient}}.\n" +
		"--- html ---\n" +
		"<p><a href=\"{{.Link}}\">Confirm</a> {{.Code}}</p>\n"
	tmpl, err := mail.ParseTemplateFile([]byte(strings.ReplaceAll(file, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Render(mail.SampleFields)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Please confirm example.com, www.example.com (order 1234567)" {
		t.Errorf("subject %q", r.Subject)
	}
	wantText := "Open " + mail.SampleFields.Link + "\nor enter SAMPLECODESAMPLECODESAMPLE at https://dcv.example/products/EnterDCVCode2 before 25 December 2026 12:00 UTC.\nSent to admin@example.com."
	if r.Text != wantText {
		t.Errorf("text %q\nwant %q", r.Text, wantText)
	}
	// html/template escapes the & of the link in the attribute.
	if !strings.Contains(r.HTML, `href="https://dcv.example/products/EnterDCVCode2?orderNumber=1234567&amp;dcvCode=SAMPLECODESAMPLECODESAMPLE"`) {
		t.Errorf("html %q", r.HTML)
	}
}

// A template that cannot render is refused when it is added, not when mail
// is sent.
func TestParseTemplateFileRefuses(t *testing.T) {
	for name, file := range map[string]string{
		"no subject line":      "Hello {{.Code}}\n",
		"no blank line":        "Subject: x\nHello {{.Code}}\n",
		"two header lines":     "Subject: x\nFrom: y\n\n{{.Code}}\n",
		"empty text":           "Subject: x\n\n \n--- html ---\n<p>{{.Code}}</p>\n",
		"syntax error":         "Subject: x\n\n{{.Code}\n",
		"unknown field":        "Subject: x\n\n{{.Code}} {{.Password}}\n",
		"unknown function":     "Subject: x\n\n{{.Code}} {{upper .Recipient}}\n",
		"text without code":    "Subject: x\n\nPlease validate {{index .Domains 0}}\n",
		"subject two lines":    "Subject: {{range .Domains}}{{.}}\n{{end}}\n\n{{.Code}}\n",
		"empty subject":        "Subject: {{if false}}x{{end}}\n\n{{.Code}}\n",
		"html syntax error":    "Subject: x\n\n{{.Code}}\n--- html ---\n<p>{{.Code</p>\n",
		"html unknown field":   "Subject: x\n\n{{.Code}}\n--- html ---\n<p>{{.Secret}}</p>\n",
		"runtime error":        "Subject: x\n\n{{.Code}} {{index .Domains 5}}\n",
		"wrong argument types": "Subject: x\n\n{{.Code}} {{date .Recipient}}\n",
	} {
		if _, err := mail.ParseTemplateFile([]byte(file)); !errors.Is(err, mail.ErrTemplate) {
			t.Errorf("%s: error %v, want ErrTemplate", name, err)
		}
	}
}

// The built-in template renders and carries the code, the link and every
// domain.
func TestDefaultTemplate(t *testing.T) {
	if err := mail.Default.Check(); err != nil {
		t.Fatal(err)
	}
	r, _ := mail.Default.Render(mail.SampleFields)
	for _, want := range []string{mail.SampleFields.Code, mail.SampleFields.Link, "www.example.com", "admin@example.com"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if r.Subject != "Domain Control Validation for example.com and 1 more (order 1234567)" {
		t.Errorf("subject %q", r.Subject)
	}
}
