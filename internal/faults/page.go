package faults

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// Page applies the rules of endpoint (EnterDCVCode2) to a handler that
// answers HTML pages. A rule's orderNumber is matched against the
// request's orderNumber (query or URL-encoded body); a rule naming a login
// never hits a page, which has none. An errorCode answers a short HTML
// page that states the code and message.
func Page(s *Set, endpoint string, next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Active() {
			next.ServeHTTP(w, r)
			return
		}
		order := pageOrder(r)
		if rule, ok := s.Fire(r.Context(), Before, endpoint, "", order); ok && rule.Answer(w, r, pageAnswer) {
			return
		}
		rec := NewRecorder(w)
		next.ServeHTTP(rec, r)
		if rule, ok := s.Fire(r.Context(), After, endpoint, "", order); ok && rule.Answer(w, r, pageAnswer) {
			return
		}
		rec.Flush()
	})
}

func pageAnswer(code wire.Code, msg string) (string, []byte) {
	if msg == "" {
		msg = wire.Message(code, "")
	}
	body := "<!doctype html><title>Error</title><p>errorCode " + strconv.Itoa(int(code)) + ": " + html.EscapeString(msg) + "</p>\n"
	return "text/html; charset=utf-8", []byte(body)
}

// pageOrder reads the orderNumber of a page request without taking its body
// from the page: the body is read (up to 64 KiB) and put back.
func pageOrder(r *http.Request) int64 {
	v := r.URL.Query().Get("orderNumber")
	if r.Method == http.MethodPost && r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		for _, p := range wire.ParseForm(string(b)) {
			if p.Name == "orderNumber" {
				v = p.Value
			}
		}
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}
