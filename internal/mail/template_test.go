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

// Parsed templates are kept by their source: templates that differ in any
// part render their own, the fields of each render are its own, a
// template refused once is refused again, and renders may run at once.
func TestRenderKeepsTemplatesApart(t *testing.T) {
	base := mail.Template{Subject: "Order {{.OrderNumber}}", Text: "Code {{.Code}}", HTML: "<p>{{.Code}} one</p>"}
	other := base
	other.HTML = "<p>{{.Code}} two</p>"
	plain := base
	plain.HTML = ""
	f1, f2 := mail.SampleFields, mail.SampleFields
	f2.Code, f2.OrderNumber = "OTHERCODE<&>", 42
	for range 2 { // the second round renders from what the first parsed
		for _, c := range []struct {
			tmpl                mail.Template
			f                   mail.Fields
			subject, text, html string
		}{
			{base, f1, "Order 1234567", "Code " + f1.Code, "<p>" + f1.Code + " one</p>"},
			{other, f1, "Order 1234567", "Code " + f1.Code, "<p>" + f1.Code + " two</p>"},
			{plain, f2, "Order 42", "Code OTHERCODE<&>", ""},
			{base, f2, "Order 42", "Code OTHERCODE<&>", "<p>OTHERCODE&lt;&amp;&gt; one</p>"},
		} {
			r, err := c.tmpl.Render(c.f)
			if err != nil || r.Subject != c.subject || r.Text != c.text || r.HTML != c.html {
				t.Errorf("%+v with code %s: %+v, %v", c.tmpl, c.f.Code, r, err)
			}
		}
	}
	bad := mail.Template{Subject: "x", Text: "{{.Code}}", HTML: "<a href='{{.Link}}"}
	for range 2 {
		if _, err := bad.Render(mail.SampleFields); !errors.Is(err, mail.ErrTemplate) {
			t.Errorf("an HTML part that does not end its attribute: %v, want ErrTemplate", err)
		}
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			f := mail.SampleFields
			f.OrderNumber = int64(i)
			r, err := base.Render(f)
			if err == nil && r.Subject != "Order "+string(rune('0'+i)) {
				err = errors.New("subject " + r.Subject)
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
