// Package mail is a DCV email's content: templates and rendering, MIME
// composition and DKIM signing. Package delivery sends what it composes.
// It decides nothing about who may receive a DCV email; package dcv has
// done that before a message reaches the outbox.
package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// Fields are what a template may use. They are documented for operators in
// docs/templates.md.
type Fields struct {
	Domains     []string  // the domains the email asks to validate, as ordered
	OrderNumber int64     //
	Code        string    // the random value
	Link        string    // the confirmation page with orderNumber and dcvCode filled in
	PageURL     string    // the confirmation page without parameters
	Expires     time.Time // when the code stops being accepted (UTC)
	Recipient   string    // the address the email goes to
}

// Template is the source of a DCV email: Go templates for the subject, the
// plain text and (optionally) the HTML part.
type Template struct {
	Subject string
	Text    string
	HTML    string
}

// Rendered is a template filled in for one email.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

var funcs = map[string]any{
	"join": strings.Join,
	"date": func(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 MST") },
}

// ErrTemplate wraps every template problem.
var ErrTemplate = errors.New("mail: bad template")

// Render fills the template in. The subject must stay on one line; the text
// must carry the code, or the email could not be confirmed.
func (t Template) Render(f Fields) (Rendered, error) {
	var r Rendered
	p, err := t.parse()
	if err != nil {
		return r, err
	}
	var b bytes.Buffer
	if err := p.subject.Execute(&b, f); err != nil {
		return r, fmt.Errorf("%w: subject: %v", ErrTemplate, err)
	}
	r.Subject = strings.TrimSpace(b.String())
	if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n\x00") {
		return r, fmt.Errorf("%w: the subject must be one non-empty line", ErrTemplate)
	}
	b.Reset()
	if err := p.text.Execute(&b, f); err != nil {
		return r, fmt.Errorf("%w: text: %v", ErrTemplate, err)
	}
	r.Text = b.String()
	if f.Code != "" && !strings.Contains(r.Text, f.Code) {
		return r, fmt.Errorf("%w: the text must contain the code ({{.Code}} or {{.Link}})", ErrTemplate)
	}
	if p.html != nil {
		b.Reset()
		if err := p.html.Execute(&b, f); err != nil {
			return r, fmt.Errorf("%w: html: %v", ErrTemplate, err)
		}
		r.HTML = b.String()
	}
	return r, nil
}

// parsedTemplate is a Template's parts, parsed; html is nil without an
// HTML part. Parsed templates may be executed concurrently.
type parsedTemplate struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

// The parsed templates, by their source. Parsing a template, and for the
// HTML part its escaping on the first execution, were two thirds of each
// render's CPU when every new DCV email did them anew. A server renders a
// handful of templates (the default and the operator's); past parsedMax
// the cache stops growing and the others are parsed per render. A
// template that does not parse is not kept.
const parsedMax = 256

var parsed struct {
	sync.Mutex
	m map[Template]*parsedTemplate
}

func (t Template) parse() (*parsedTemplate, error) {
	parsed.Lock()
	p, ok := parsed.m[t]
	parsed.Unlock()
	if ok {
		return p, nil
	}
	p = &parsedTemplate{}
	var err error
	if p.subject, err = texttemplate.New("subject").Funcs(funcs).Option("missingkey=error").Parse(t.Subject); err != nil {
		return nil, fmt.Errorf("%w: subject: %v", ErrTemplate, err)
	}
	if p.text, err = texttemplate.New("text").Funcs(funcs).Option("missingkey=error").Parse(t.Text); err != nil {
		return nil, fmt.Errorf("%w: text: %v", ErrTemplate, err)
	}
	if t.HTML != "" {
		if p.html, err = htmltemplate.New("html").Funcs(funcs).Option("missingkey=error").Parse(t.HTML); err != nil {
			return nil, fmt.Errorf("%w: html: %v", ErrTemplate, err)
		}
	}
	parsed.Lock()
	defer parsed.Unlock()
	if old, ok := parsed.m[t]; ok {
		return old, nil
	}
	if parsed.m == nil {
		parsed.m = map[Template]*parsedTemplate{}
	}
	if len(parsed.m) < parsedMax {
		parsed.m[t] = p
	}
	return p, nil
}

// SampleFields are the fields a template is checked with when it is added.
var SampleFields = Fields{
	Domains:     []string{"example.com", "www.example.com"},
	OrderNumber: 1234567,
	Code:        "SAMPLECODESAMPLECODESAMPLE",
	Link:        "https://dcv.example/products/EnterDCVCode2?orderNumber=1234567&dcvCode=SAMPLECODESAMPLECODESAMPLE",
	PageURL:     "https://dcv.example/products/EnterDCVCode2",
	Expires:     time.Date(2026, 12, 25, 12, 0, 0, 0, time.UTC),
	Recipient:   "admin@example.com",
}

// Check renders the template with SampleFields, so that a template that
// cannot render is refused when it is added, not when mail is sent.
func (t Template) Check() error {
	_, err := t.Render(SampleFields)
	return err
}

// ParseTemplateFile reads the file format of `dcvmail template add`:
//
//	Subject: one line, a Go template
//	<blank line>
//	the plain-text body, a Go template
//	--- html ---
//	the optional HTML body, a Go html/template
func ParseTemplateFile(b []byte) (Template, error) {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	head, body, ok := strings.Cut(s, "\n\n")
	if !ok || !strings.HasPrefix(head, "Subject:") || strings.Contains(head, "\n") {
		return Template{}, fmt.Errorf("%w: the file must start with one 'Subject:' line and a blank line", ErrTemplate)
	}
	t := Template{Subject: strings.TrimSpace(strings.TrimPrefix(head, "Subject:"))}
	t.Text, t.HTML, _ = strings.Cut(body, "\n--- html ---\n")
	if strings.TrimSpace(t.Text) == "" {
		return Template{}, fmt.Errorf("%w: the text body is empty", ErrTemplate)
	}
	return t, t.Check()
}

// Default is the built-in DCV email.
var Default = Template{
	Subject: `Domain Control Validation for {{index .Domains 0}}{{if gt (len .Domains) 1}} and {{len (slice .Domains 1)}} more{{end}} (order {{.OrderNumber}})`,
	Text: `Hello,

A TLS certificate has been requested for the following domain(s), order {{.OrderNumber}}:
{{range .Domains}}
    {{.}}{{end}}

If you approve, confirm that you control the domain(s) by opening this link
and pressing the button on the page:

    {{.Link}}

Or go to {{.PageURL}} and enter:

    Order number:    {{.OrderNumber}}
    Validation code: {{.Code}}

The code is valid until {{date .Expires}}. If you did not expect this
email, ignore it: no certificate is issued without the code.

This message went to {{.Recipient}} because it is an address that the
CA/Browser Forum Baseline Requirements (section 3.2.2.4) permit for domain
control validation.
`,
	HTML: `<!doctype html>
<html lang="en"><body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
<p>Hello,</p>
<p>A TLS certificate has been requested for the following domain(s), order <strong>{{.OrderNumber}}</strong>:</p>
<ul>{{range .Domains}}<li>{{.}}</li>{{end}}</ul>
<p>If you approve, confirm that you control the domain(s):</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a5fb4; color: #fff; text-decoration: none; border-radius: 4px">Review and confirm</a></p>
<p>Or go to <a href="{{.PageURL}}">{{.PageURL}}</a> and enter:</p>
<table><tr><td>Order number:</td><td><code>{{.OrderNumber}}</code></td></tr>
<tr><td>Validation code:</td><td><code>{{.Code}}</code></td></tr></table>
<p>The code is valid until {{date .Expires}}. If you did not expect this email, ignore it: no certificate is issued without the code.</p>
<p style="color: #555; font-size: 0.9em">This message went to {{.Recipient}} because it is an address that the CA/Browser Forum Baseline Requirements (section 3.2.2.4) permit for domain control validation.</p>
</body></html>
`,
}
