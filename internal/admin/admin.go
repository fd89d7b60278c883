// Package admin serves the admin listener (docs/control.md): the operator's
// endpoints (/healthz, /readyz, /metrics, /status, the mailbox), accounts
// and orders over HTTP, and, with --test-controls, the test controls
// (reset, clock, fault rules, marking domains validated). The guard in
// front of it (package server) checks the Host and the bearer token.
//
// It parses and answers; the rules are those of packages accounts and dcv,
// the same functions the command line calls.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/faults"
	"github.com/dcvmail/dcvmail/internal/mailbox"
)

// Config wires the admin handler.
type Config struct {
	App *app.App // the opened domain: its store, for the accounts' rules and the built-in mailbox
	DCV *dcv.Service
	Log *slog.Logger
	// Status is the body of GET /status.
	Status func(ctx context.Context) (any, error)
	// Mount adds /readyz and /metrics.
	Mount func(mux *http.ServeMux)
	// Controls are the test controls; nil without --test-controls.
	Controls *Controls
}

// Controls are what the test controls act on.
type Controls struct {
	Clock  *clock.Offset
	Faults *faults.Set
	// Endpoints are the names fault rules may hit.
	Endpoints []string
	// Wake wakes the outbox worker (a delivery due now is retried now).
	Wake func()
	// Reseed seeds the demo data after a reset; nil without --demo.
	Reseed func(ctx context.Context) error
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// Handler returns the admin listener's handler.
func Handler(cfg Config) http.Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	h := &handler{cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", h.status)
	// Liveness only: a database outage is /readyz's to report; a failing
	// liveness check would have the process restarted, which mends nothing.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	if cfg.Mount != nil {
		cfg.Mount(mux)
	}
	mux.HandleFunc("GET /mailbox", h.legacyMailbox)
	mailbox.New(mailbox.Config{Store: cfg.App.Store, Log: cfg.Log}).Register(mux)
	h.accountRoutes(mux)
	h.orderRoutes(mux)
	h.controlRoutes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" && strings.HasPrefix(r.URL.Path, "/admin/") {
			// The mux's own 404 and 405 are plain text; the control API's
			// errors are JSON.
			w = &jsonErrors{ResponseWriter: w, what: r.Method + " " + r.URL.Path}
		}
		mux.ServeHTTP(w, r)
	})
}

// jsonErrors turns the mux's plain-text 404 and 405 into JSON errors.
type jsonErrors struct {
	http.ResponseWriter
	what    string
	written bool
}

func (j *jsonErrors) WriteHeader(status int) {
	if j.written {
		return
	}
	j.written = true
	msg := "no such admin path: " + j.what + " (docs/control.md lists them)"
	if status == http.StatusMethodNotAllowed {
		msg = "this path does not take that method: " + j.what + " (allowed: " + j.Header().Get("Allow") + ")"
	}
	j.Header().Del("Content-Type")
	j.Header().Del("X-Content-Type-Options")
	writeError(j.ResponseWriter, status, msg)
}

func (j *jsonErrors) Write(b []byte) (int, error) {
	if !j.written {
		j.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's text is replaced by the JSON error
}

type handler struct{ Config }

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.Status(r.Context())
	if err != nil {
		h.internal(w, "admin status", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

// legacyMailbox is /mailbox?order=N, the captured messages as stored.
func (h *handler) legacyMailbox(w http.ResponseWriter, r *http.Request) {
	var order int64
	if v := r.URL.Query().Get("order"); v != "" {
		var err error
		if order, err = strconv.ParseInt(v, 10, 64); err != nil || order <= 0 {
			writeError(w, http.StatusBadRequest, "order "+strconv.Quote(v)+": want an order number")
			return
		}
	}
	msgs, err := h.App.Store.Mailbox(r.Context(), order)
	if err != nil {
		h.internal(w, "admin mailbox", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(msgs)
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// internal logs err and answers 500 without it.
func (h *handler) internal(w http.ResponseWriter, what string, err error) {
	h.Log.Error(what, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; the server's log says more ("+what+")")
}

// decode reads a JSON object body into v, refusing unknown fields; an
// empty body is an empty object when emptyOK. It answers 400 itself and
// returns false on bad input.
func decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) bool {
	b, err := readBody(w, r)
	if err != nil {
		return false
	}
	if strings.TrimSpace(string(b)) == "" {
		if emptyOK {
			return true
		}
		writeError(w, http.StatusBadRequest, "the body must be a JSON object (docs/control.md)")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be a JSON object with the documented fields (docs/control.md): "+jsonProblem(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "the body must hold one JSON object, nothing after it")
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body, without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + strconv.Quote(te.Field) + " has the wrong type (" + te.Value + ")"
	}
	return err.Error()
}

// orderNumber reads the {n} of a path.
func orderNumber(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := r.PathValue("n")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		writeError(w, http.StatusBadRequest, strconv.Quote(v)+" is not an order number")
		return 0, false
	}
	return n, true
}

// readBody reads a body of at most maxBody bytes; it answers 413 itself.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
	}
	return b, err
}
