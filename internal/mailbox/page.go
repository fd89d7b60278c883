package mailbox

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

//go:embed page.html style.css
var files embed.FS

var (
	pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
		"when": func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05 UTC") },
		"addr": func(a *netmail.Address) string {
			if a.Name == "" {
				return a.Address
			}
			return a.Name + " <" + a.Address + ">"
		},
	}).ParseFS(files, "page.html"))
	style = func() string {
		b, err := files.ReadFile("style.css")
		if err != nil {
			panic(err)
		}
		return string(b)
	}()
	// pagePolicy: the page's own style and nothing else; frames only from
	// this origin (the message's HTML, itself sandboxed); no script at all.
	pagePolicy = "default-src 'none'; style-src 'sha256-" + hashOf(style) + "'; frame-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	// htmlPolicy is the message's HTML: a sandbox (no script, no forms, no
	// same origin), its inline styles and data: images, nothing fetched.
	htmlPolicy = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

// confirmLinkRE finds the confirmation page's link in a DCV email's text.
var confirmLinkRE = regexp.MustCompile(`https?://[^\s<>"]+/products/EnterDCVCode2[^\s<>"]*`)

type headerLine struct{ Name, Value string }

type pageData struct {
	Style     template.CSS
	Query     string
	Error     string
	List      *List
	Prev      string
	Next      string
	Message   *Message
	Read      bool
	Headers   []headerLine
	Raw       string
	Confirm   string
	HTMLFrame string
	Tab       string
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	d.Style = template.CSS(style)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pagePolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		h.log.Error("mailbox page", "err", err)
	}
}

func (h *Handler) pageList(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := pageData{Query: q}
	conds, err := ParseQuery(q)
	if err != nil {
		d.Error = err.Error()
		h.render(w, http.StatusBadRequest, d)
		return
	}
	start, limit, err := pageOf(r)
	if err != nil {
		d.Error = err.Error()
		h.render(w, http.StatusBadRequest, d)
		return
	}
	l, err := h.listing(r.Context(), conds, start, limit)
	if err != nil {
		h.log.Error("mailbox page", "err", err)
		d.Error = "The mailbox could not be read; see the server's log."
		h.render(w, http.StatusInternalServerError, d)
		return
	}
	d.List = &l
	link := func(s int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		if s > 0 {
			v.Set("start", strconv.Itoa(s))
		}
		if limit != DefaultLimit {
			v.Set("limit", strconv.Itoa(limit))
		}
		if len(v) == 0 {
			return "/"
		}
		return "/?" + v.Encode()
	}
	if start > 0 {
		d.Prev = link(max(start-limit, 0))
	}
	if start+len(l.Messages) < l.MessagesCount {
		d.Next = link(start + limit)
	}
	h.render(w, http.StatusOK, d)
}

func (h *Handler) pageMessage(w http.ResponseWriter, r *http.Request) {
	m, err := h.lookup(r)
	if err != nil {
		status, msg := http.StatusInternalServerError, "The message could not be read; see the server's log."
		var bad badRequest
		switch {
		case errors.As(err, &bad):
			status, msg = http.StatusBadRequest, bad.Error()
		case errors.Is(err, model.ErrNotFound):
			status, msg = http.StatusNotFound, "No such message: it may have been deleted."
		default:
			h.log.Error("mailbox page", "err", err)
		}
		h.render(w, status, pageData{Error: msg})
		return
	}
	if err := h.st.MarkMailRead(r.Context(), m.ID); err != nil {
		h.log.Error("mailbox page", "err", err)
	}
	msg := messageOf(m)
	p, _ := parseRaw(m.Raw)
	var lines []headerLine
	names := make([]string, 0, len(p.Header))
	for k := range p.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range p.Header[k] {
			lines = append(lines, headerLine{k, decodeHeader(v)})
		}
	}
	d := pageData{Message: &msg, Headers: lines, Raw: m.Raw, Tab: r.URL.Query().Get("tab"),
		Confirm: confirmLinkRE.FindString(msg.Text)}
	if msg.HTML != "" {
		d.HTMLFrame = "/view/" + strconv.FormatInt(m.ID, 10) + "/html"
	}
	h.render(w, http.StatusOK, d)
}

// pageHTML serves a message's HTML for the sandboxed frame.
func (h *Handler) pageHTML(w http.ResponseWriter, r *http.Request) {
	m, err := h.lookup(r)
	if err != nil {
		http.Error(w, "no such message", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", htmlPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, messageOf(m).HTML)
}
