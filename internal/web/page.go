// Package web serves the pages that people open: the confirmation page
// /products/EnterDCVCode2, where a domain's administrator enters the code of
// a DCV email. It reads the form, asks package dcv to judge the code, and
// renders the answer; it decides nothing itself and knows no errorCodes.
//
// Every answer is HTTP 200 (clients of the vendor's page take any other
// status for a transport failure), a GET never changes anything (mail
// scanners open links), and the page needs no cookie, script or asset from
// anywhere else.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/admission"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/origin"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// Path is where the confirmation page is served: dcv.PagePath, the address
// the links in emails point to.
const Path = dcv.PagePath

// The phrases that existing clients look for in the page; they must stay
// word for word (docs/api.md §6).
const (
	PhraseConfirmed     = "You have entered the correct Domain Control Validation code"
	PhraseInvalid       = "Invalid Validation Code!"
	PhraseAlreadyIssued = "the certificate has already been issued"
)

// maxBody bounds what a POST may carry; a form of two fields is far less.
const maxBody = wire.MaxBody

//go:embed page.html style.css
var files embed.FS

var (
	pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
		"utc": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
	}).ParseFS(files, "page.html"))
	style = mustRead("style.css")
	// contentPolicy allows the page's own inline style and nothing else:
	// no script, no frame around the page (no clickjacking of the button),
	// forms only to this origin.
	contentPolicy = "default-src 'none'; style-src 'sha256-" + hashOf(style) + "'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Config wires a Page.
type Config struct {
	DCV *dcv.Service
	// TrustedProxies may say, with X-Forwarded-Proto and X-Forwarded-For,
	// that a request came over HTTPS and from which address.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	// Observe, when set, hears of every answer: the page's state and, for
	// an invalid code, the reason (the metrics).
	Observe func(state, reason string)
	// Admission refuses a POST while the database's writes are
	// backlogged; nil refuses none.
	Admission *admission.Gate
}

// Page is the confirmation page's handler.
type Page struct {
	dcv     *dcv.Service
	proxies origin.Proxies
	log     *slog.Logger
	observe func(state, reason string)
	gate    *admission.Gate
}

// New returns the confirmation page.
func New(cfg Config) *Page {
	p := &Page{dcv: cfg.DCV, proxies: cfg.TrustedProxies, log: cfg.Log, observe: cfg.Observe, gate: cfg.Admission}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// view is what the template shows.
type view struct {
	State        string // form, confirmed, already, invalid, locked, missing, failed, insecure, busy
	Reason       string // with invalid: rejected, malformed, expired, superseded, closed
	OrderNumber  string // as entered, to fill the form again
	Code         string
	Domains      []string
	AllValidated bool
	Expires      time.Time
	RetryAt      time.Time
	MinutesLeft  int
	AttemptsLeft int
	RequestID    string
	Style        template.CSS
	Phrase       phrases
}

// phrases hands the fixed phrases to the template.
type phrases struct{ Confirmed, Invalid, AlreadyIssued string }

var fixedPhrases = phrases{PhraseConfirmed, PhraseInvalid, PhraseAlreadyIssued}

// ServeHTTP answers every method with HTTP 200, but for the busy state's
// 503: POST judges a code, any other method shows the form. The answer is
// counted before it is sent, so that whoever has read it finds it in the
// metrics.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cl := p.proxies.Of(r)
	v := p.answer(r, cl)
	if p.observe != nil {
		p.observe(v.State, v.Reason)
	}
	p.render(w, cl, v)
}

// answer decides what the page shows; a panic shows the failed state.
func (p *Page) answer(r *http.Request, cl origin.Origin) (v view) {
	defer func() {
		if e := recover(); e != nil {
			v = view{State: "failed", RequestID: newRequestID()}
			p.log.Error("panic in confirmation page", "request", v.RequestID, "panic", e, "stack", string(debug.Stack()))
		}
	}()
	if r.Method == http.MethodPost {
		return p.confirm(r, cl)
	}
	return p.form(r)
}

// form is the GET: the fields filled in from the link, and nothing else.
// It changes nothing and judges nothing: a GET is what mail scanners send
// and what costs a guesser nothing, so its answer must not depend on
// whether the code is right (issue 16: the page was an oracle).
func (p *Page) form(r *http.Request) view {
	f := fieldsOf(wire.ParseForm(r.URL.RawQuery))
	return view{State: "form", OrderNumber: f.order, Code: f.code}
}

// confirm is the POST: the fields come from the body, or from the query
// string when the body lacks them (existing automation posts them there
// with an empty body).
func (p *Page) confirm(r *http.Request, cl origin.Origin) view {
	body := readForm(r)
	f := fieldsOf(body)
	q := fieldsOf(wire.ParseForm(r.URL.RawQuery))
	if f.order == "" {
		f.order = q.order
	}
	if f.code == "" {
		f.code = q.code
	}
	v := view{OrderNumber: f.order, Code: f.code}
	if !cl.HTTPS {
		// A code sent over plain HTTP may have been read on the way: it
		// is not judged, so that the answer tells an eavesdropper nothing
		// and nothing is validated on it.
		v.State = "insecure"
		return v
	}
	if strings.TrimSpace(f.order) == "" || strings.TrimSpace(f.code) == "" {
		v.State = "missing"
		return v
	}
	n, ok := orderNumber(f.order)
	if !ok {
		v.State, v.Reason = "invalid", "rejected"
		return v
	}
	v.OrderNumber = strconv.FormatInt(n, 10)
	if !p.gate.Admit() {
		// Before the code is looked up or counted: the answer depends
		// on the load alone, and nothing is written.
		v.State = "busy"
		return v
	}
	res, err := p.dcv.Confirm(r.Context(), dcv.ConfirmRequest{
		OrderNumber: n,
		Code:        f.code,
		ClientIP:    clientIP(cl),
		Source:      sourceOf(cl),
		PeerAddr:    cl.Peer,
		UserAgent:   r.UserAgent(),
	})
	if err != nil {
		v.State, v.RequestID = "failed", newRequestID()
		p.log.Error("confirmation page", "request", v.RequestID, "order", n, "err", err)
		return v
	}
	v.AttemptsLeft, v.RetryAt = res.AttemptsLeft, res.RetryAt
	switch res.Outcome {
	case dcv.Confirmed:
		v.State, v.Domains = "confirmed", res.Domains
		p.log.Info("domain control confirmed", "order", n, "domains", strings.Join(res.Domains, " "),
			"client", clientIP(cl), "peer", cl.Peer, "userAgent", r.UserAgent())
	case dcv.AlreadyValidated:
		v.State, v.Domains, v.AllValidated = "already", res.Domains, res.AllValidated
	case dcv.TooManyAttempts:
		v.State = "locked"
	case dcv.Expired:
		v.State, v.Reason, v.Expires = "invalid", "expired", res.Expires
	case dcv.Superseded:
		v.State, v.Reason = "invalid", "superseded"
	case dcv.OrderClosed:
		v.State, v.Reason = "invalid", "closed"
	default:
		v.State, v.Reason = "invalid", "rejected"
		if res.Malformed {
			v.Reason = "malformed"
		}
	}
	if !v.RetryAt.IsZero() {
		v.MinutesLeft = int((v.RetryAt.Sub(p.dcv.Now()) + time.Minute - 1) / time.Minute)
	}
	return v
}

// render writes the page with the headers that keep it private and whole.
func (p *Page) render(w http.ResponseWriter, cl origin.Origin, v view) {
	v.Style, v.Phrase = template.CSS(style), fixedPhrases
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, v); err != nil {
		p.log.Error("confirmation page template", "err", err)
		b.Reset()
		b.WriteString("<!doctype html><title>Error</title><p>The page could not be shown. Please try again later.")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The link carries the code: keep it out of caches and Referer headers.
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	if cl.HTTPS {
		// Browsers heed HSTS only over HTTPS (RFC 6797 section 7.2).
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	status := http.StatusOK
	if v.State == "busy" {
		h.Set("Retry-After", strconv.Itoa(int(admission.RetryAfter/time.Second)))
		status = http.StatusServiceUnavailable
	}
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fields are the page's two parameters as submitted.
type fields struct{ order, code string }

// fieldsOf picks orderNumber and dcvCode out of form pairs, names matched
// case-insensitively (as the API does); the first non-empty value wins.
func fieldsOf(pairs []wire.Pair) fields {
	var f fields
	for _, p := range pairs {
		switch {
		case strings.EqualFold(p.Name, "orderNumber") && f.order == "":
			f.order = p.Value
		case strings.EqualFold(p.Name, "dcvCode") && f.code == "":
			f.code = p.Value
		}
	}
	if len(f.order) > 64 {
		f.order = f.order[:64]
	}
	if len(f.code) > 256 {
		f.code = f.code[:256]
	}
	return f
}

// readForm reads a POST body: URL-encoded (what browsers and most tools
// send) or multipart (curl -F). Anything else, or too much, reads as empty.
func readForm(r *http.Request) []wire.Pair {
	if r.Body == nil {
		return nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxBody); err != nil || r.MultipartForm == nil {
			return nil
		}
		var out []wire.Pair
		for name, vals := range r.MultipartForm.Value {
			for _, v := range vals {
				out = append(out, wire.Pair{Name: name, Value: v})
			}
		}
		return out
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil
	}
	return wire.ParseForm(string(b))
}

// orderNumber reads an order number as typed: digits, white space around.
func orderNumber(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// sourceOf is what the limits on wrong codes count the client as.
func sourceOf(cl origin.Origin) string {
	src, _ := origin.Source(cl.IP)
	return src
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
