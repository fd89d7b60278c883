// Package mailbox serves the built-in mailbox on the admin listener: a
// Mailpit-compatible JSON API (a subset, with Mailpit
// v1.33's paths, shapes and field names, plus dcvmail's OrderNumber and
// DCVCode), dcvmail's wait endpoint, and a page for people at /.
//
// Message content is attacker-influenced (domain names, addresses): the page
// escapes everything through html/template and shows a message's HTML only
// in a sandboxed frame served with a policy that forbids script.
package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Store is what the mailbox needs of the database.
type Store interface {
	MailboxPage(ctx context.Context, q store.MailQuery) ([]store.StoredMail, int, error)
	MailboxCounts(ctx context.Context) (total, unread int, err error)
	MailboxMessage(ctx context.Context, id int64) (store.StoredMail, error)
	MarkMailRead(ctx context.Context, id int64) error
	DeleteMail(ctx context.Context, ids []int64) (int64, error)
	// MailboxChanged is closed at the next capture (see store.Store).
	MailboxChanged() <-chan struct{}
	Dialect() string
}

// Limits of the API.
const (
	DefaultLimit   = 50
	MaxLimit       = 1000
	DefaultWait    = 10 * time.Second
	MaxWait        = 25 * time.Second // below the listener's 30 s write timeout
	maxDeleteBody  = 1 << 20
	recheckOthers  = 2 * time.Second
	maxQueryLength = 1000
)

// Config configures the Handler.
type Config struct {
	Store Store
	Log   *slog.Logger
}

// Handler serves the mailbox API and page.
type Handler struct {
	st  Store
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the mailbox handler; Register mounts it on a mux.
func New(c Config) *Handler {
	h := &Handler{st: c.Store, log: c.Log, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.Register(h.mux)
	return h
}

// Register mounts the mailbox's routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/messages", h.list)
	mux.HandleFunc("DELETE /api/v1/messages", h.delete)
	mux.HandleFunc("GET /api/v1/search", h.search)
	mux.HandleFunc("GET /api/v1/message/{id}", h.message)
	mux.HandleFunc("GET /api/v1/message/{id}/raw", h.raw)
	mux.HandleFunc("GET /api/v1/message/{id}/headers", h.headers)
	mux.HandleFunc("GET /api/v1/info", h.info)
	mux.HandleFunc("GET /admin/v1/mailbox/wait", h.wait)
	mux.HandleFunc("GET /{$}", h.pageList)
	mux.HandleFunc("GET /view/{id}", h.pageMessage)
	mux.HandleFunc("GET /view/{id}/html", h.pageHTML)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Summary is Mailpit's MessageSummary plus dcvmail's fields.
type Summary struct {
	ID          string
	MessageID   string
	Read        bool
	From        *netmail.Address
	To          []*netmail.Address
	Cc          []*netmail.Address
	Bcc         []*netmail.Address
	ReplyTo     []*netmail.Address
	Subject     string
	Created     time.Time
	Username    string
	Tags        []string
	Size        uint64
	Attachments int
	Snippet     string
	OrderNumber int64
	DCVCode     string
}

// List is Mailpit's MessagesSummary.
type List struct {
	Total          int       `json:"total"`
	Unread         int       `json:"unread"`
	Count          int       `json:"count"`
	MessagesCount  int       `json:"messages_count"`
	MessagesUnread int       `json:"messages_unread"`
	Start          int       `json:"start"`
	Tags           []string  `json:"tags"`
	Messages       []Summary `json:"messages"`
}

// Message is Mailpit's Message plus dcvmail's fields.
type Message struct {
	ID              string
	MessageID       string
	From            *netmail.Address
	To              []*netmail.Address
	Cc              []*netmail.Address
	Bcc             []*netmail.Address
	ReplyTo         []*netmail.Address
	ReturnPath      string
	Subject         string
	ListUnsubscribe ListUnsubscribe
	Date            time.Time
	Tags            []string
	Username        string
	Text            string
	HTML            string
	Size            uint64
	Inline          []Attachment
	Attachments     []Attachment
	OrderNumber     int64
	DCVCode         string
}

// ListUnsubscribe is Mailpit's; DCV emails carry no such header.
type ListUnsubscribe struct {
	Header     string
	Links      []string
	Errors     string
	HeaderPost string
}

// Attachment is Mailpit's; DCV emails carry none.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        uint64
}

// Info is Mailpit's AppInformation, in the part dcvmail can fill.
type Info struct {
	Version       string
	LatestVersion string
	Database      string
	DatabaseSize  uint64
	Messages      int
	Unread        int
	Tags          map[string]int64
}

func summaryOf(m store.StoredMail) Summary {
	p, _ := parseRaw(m.Raw)
	text, htmlBody := bodies(p, m)
	s := Summary{
		ID: strconv.FormatInt(m.ID, 10), MessageID: p.MessageID, Read: m.Read, From: p.From,
		To: p.To, ReplyTo: p.ReplyTo, Subject: p.Subject, Created: m.Captured, Tags: []string{},
		Size: uint64(len(m.Raw)), Snippet: snippet(text, htmlBody), OrderNumber: m.OrderNumber, DCVCode: m.DCVCode,
	}
	// Mailpit's list keeps Cc and Bcc only when the message has some.
	if len(p.Cc) > 0 {
		s.Cc = p.Cc
	}
	if len(p.Bcc) > 0 {
		s.Bcc = p.Bcc
	}
	if s.From == nil {
		s.From = &netmail.Address{}
	}
	return s
}

// bodies prefers what the source says, and falls back to what was
// captured beside it.
func bodies(p parsed, m store.StoredMail) (string, string) {
	if p.Text == "" && p.HTML == "" {
		return m.Text, m.HTML
	}
	return p.Text, p.HTML
}

func messageOf(m store.StoredMail) Message {
	p, _ := parseRaw(m.Raw)
	text, htmlBody := bodies(p, m)
	date, err := p.Header.Date()
	if err != nil {
		date = m.Captured
	}
	return Message{
		ID: strconv.FormatInt(m.ID, 10), MessageID: p.MessageID, From: p.From, To: p.To, Cc: p.Cc, Bcc: p.Bcc,
		ReplyTo: p.ReplyTo, ReturnPath: p.ReturnPath, Subject: p.Subject,
		ListUnsubscribe: ListUnsubscribe{Links: []string{}}, Date: date, Tags: []string{},
		Text: text, HTML: htmlBody, Size: uint64(len(m.Raw)), Inline: []Attachment{}, Attachments: []Attachment{},
		OrderNumber: m.OrderNumber, DCVCode: m.DCVCode,
	}
}

// badRequest is an input error, answered 400 with its sentence.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail answers err: 400 for bad input, 404 for an unknown message, else 500
// with nothing of the error shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.Error())
	case errors.Is(err, model.ErrNotFound):
		writeError(w, http.StatusNotFound, "message not found")
	case r.Context().Err() != nil:
	default:
		h.log.Error("mailbox", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// pageOf reads start and limit.
func pageOf(r *http.Request) (start, limit int, err error) {
	q := r.URL.Query()
	limit = DefaultLimit
	if v := q.Get("start"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return 0, 0, badRequest(fmt.Sprintf("start %q: want a whole number, 0 or more", v))
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxLimit {
			return 0, 0, badRequest(fmt.Sprintf("limit %q: want a whole number from 1 to %d", v, MaxLimit))
		}
	}
	return start, limit, nil
}

func (h *Handler) listing(ctx context.Context, conds []store.MailCond, start, limit int) (List, error) {
	msgs, matched, err := h.st.MailboxPage(ctx, store.MailQuery{Conds: conds, Start: start, Limit: limit})
	if err != nil {
		return List{}, err
	}
	total, unread, err := h.st.MailboxCounts(ctx)
	if err != nil {
		return List{}, err
	}
	l := List{Total: total, Unread: unread, Count: len(msgs), MessagesCount: matched, Start: start,
		Tags: []string{}, Messages: make([]Summary, len(msgs))}
	l.MessagesUnread = unread
	for i, m := range msgs {
		l.Messages[i] = summaryOf(m)
		if len(conds) > 0 && len(l.Messages[i].ReplyTo) == 0 {
			// Mailpit's search answers null where its list answers [].
			l.Messages[i].ReplyTo = nil
		}
	}
	if len(conds) > 0 {
		_, l.MessagesUnread, err = h.st.MailboxPage(ctx, store.MailQuery{Conds: append(conds, store.MailCond{Field: store.MailRead, Value: "0"}), Limit: 1})
	}
	return l, err
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	start, limit, err := pageOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := h.listing(r.Context(), nil, start, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	query := strings.TrimSpace(r.URL.Query().Get("query"))
	if query == "" {
		h.fail(w, r, badRequest("query: empty; want terms such as to:ADDR, subject:WORD, order:N or words"))
		return
	}
	conds, err := ParseQuery(query)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	start, limit, err := pageOf(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := h.listing(r.Context(), conds, start, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// lookup resolves {id}: a message number, or "latest" (the newest, or the
// newest matching ?query= as in Mailpit).
func (h *Handler) lookup(r *http.Request) (store.StoredMail, error) {
	id := r.PathValue("id")
	if id != "latest" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return store.StoredMail{}, badRequest(fmt.Sprintf("message ID %q: want a message's ID or \"latest\"", id))
		}
		return h.st.MailboxMessage(r.Context(), n)
	}
	conds, err := ParseQuery(r.URL.Query().Get("query"))
	if err != nil {
		return store.StoredMail{}, err
	}
	msgs, _, err := h.st.MailboxPage(r.Context(), store.MailQuery{Conds: conds, Limit: 1})
	if err != nil {
		return store.StoredMail{}, err
	}
	if len(msgs) == 0 {
		return store.StoredMail{}, model.ErrNotFound
	}
	return msgs[0], nil
}

func (h *Handler) message(w http.ResponseWriter, r *http.Request) {
	m, err := h.lookup(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Opening a message marks it read, as in Mailpit.
	if err := h.st.MarkMailRead(r.Context(), m.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageOf(m))
}

func (h *Handler) raw(w http.ResponseWriter, r *http.Request) {
	m, err := h.lookup(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("dl") == "1" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+strconv.FormatInt(m.ID, 10)+`.eml"`)
	}
	io.WriteString(w, m.Raw)
}

func (h *Handler) headers(w http.ResponseWriter, r *http.Request) {
	m, err := h.lookup(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, _ := parseRaw(m.Raw)
	writeJSON(w, http.StatusOK, p.Header)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	var body struct{ IDs []string }
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDeleteBody))
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, badRequest("body: want {\"IDs\": [\"ID\", ...]} or nothing to delete every message: "+err.Error()))
		return
	}
	ids := make([]int64, 0, len(body.IDs))
	for _, s := range body.IDs {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			h.fail(w, r, badRequest(fmt.Sprintf("IDs: %q is not a message ID; nothing was deleted", s)))
			return
		}
		ids = append(ids, n)
	}
	if _, err := h.st.DeleteMail(r.Context(), ids); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok")
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request) {
	total, unread, err := h.st.MailboxCounts(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Info{Version: version(), LatestVersion: "disabled", Database: h.st.Dialect(),
		Messages: total, Unread: unread, Tags: map[string]int64{}})
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return "dcvmail " + bi.Main.Version
	}
	return "dcvmail"
}

// wait answers the oldest message matching ?query= whose ID is above
// ?after=, as soon as it is captured, or 408 after ?timeout=.
func (h *Handler) wait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	conds, err := ParseQuery(q.Get("query"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var after int64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			h.fail(w, r, badRequest(fmt.Sprintf("after %q: want a message ID", v)))
			return
		}
	}
	timeout := DefaultWait
	if v := q.Get("timeout"); v != "" {
		if timeout, err = parseTimeout(v); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// A capture in this process wakes the wait at once; the recheck finds
	// what another process (another node on the same database) captured.
	recheck := time.NewTicker(recheckOthers)
	defer recheck.Stop()
	for {
		changed := h.st.MailboxChanged() // before looking: no capture is missed
		msgs, _, err := h.st.MailboxPage(r.Context(), store.MailQuery{Conds: conds, AfterID: after, Limit: 1, Oldest: true})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if len(msgs) > 0 {
			writeJSON(w, http.StatusOK, messageOf(msgs[0]))
			return
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-deadline.C:
			writeError(w, http.StatusRequestTimeout, fmt.Sprintf("no message matched within %v", timeout))
			return
		case <-r.Context().Done():
			return
		}
	}
}

func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseFloat(v, 64)
		if nerr != nil {
			return 0, badRequest(fmt.Sprintf("timeout %q: want a duration such as 10s", v))
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d <= 0 || d > MaxWait {
		return 0, badRequest(fmt.Sprintf("timeout %q: want more than 0 and at most %v", v, MaxWait))
	}
	return d, nil
}

// ParseQuery reads a search: terms to:ADDR, from:ADDR, subject:WORD,
// order:N, is:read, is:unread, and free words (in the subject, text or
// addresses); "quoted phrases" keep their spaces; a leading - or ! negates
// a term, as in Mailpit.
func ParseQuery(query string) ([]store.MailCond, error) {
	if len(query) > maxQueryLength {
		return nil, badRequest(fmt.Sprintf("query: longer than %d characters", maxQueryLength))
	}
	var conds []store.MailCond
	for _, w := range splitQuery(query) {
		c := store.MailCond{}
		if len(w) > 1 && (w[0] == '-' || w[0] == '!') {
			c.Not, w = true, w[1:]
		}
		key, val, found := strings.Cut(w, ":")
		lk := strings.ToLower(key)
		switch {
		case found && lk == "to":
			c.Field, c.Value = store.MailTo, val
		case found && lk == "from":
			c.Field, c.Value = store.MailFrom, val
		case found && lk == "subject":
			c.Field, c.Value = store.MailSubject, val
		case found && lk == "order":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return nil, badRequest(fmt.Sprintf("query: order:%s: want an order number", val))
			}
			c.Field, c.Value = store.MailOrder, strconv.FormatInt(n, 10)
		case found && lk == "is" && (strings.EqualFold(val, "read") || strings.EqualFold(val, "unread")):
			c.Field, c.Value = store.MailRead, "0"
			if strings.EqualFold(val, "read") {
				c.Value = "1"
			}
		default:
			c.Field, c.Value = store.MailWords, w
		}
		if c.Value == "" {
			continue
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// splitQuery splits on spaces outside double quotes and drops the quotes.
func splitQuery(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
