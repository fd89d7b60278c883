// Package api serves the Sectigo-compatible endpoints under /products/. It
// parses and checks each request in the contract's order, authenticates the
// caller, hands the call to package dcv, and turns dcv's answer into the
// wire format. It is the only package that knows errorCodes.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/admission"
	"github.com/dcvmail/dcvmail/internal/costly"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/faults"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/origin"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// Handler serves the API.
type Handler struct {
	dcv     *dcv.Service
	auth    *accounts.Authenticator
	proxies origin.Proxies
	log     *slog.Logger
	mux     *http.ServeMux
	limiter *accountLimiter // nil: no per-account request limit
	gate    *admission.Gate // nil: writes are never refused
	observe func(endpoint string, errorCode int, elapsed time.Duration)
	faults  *faults.Set   // nil without --test-controls
	costly  *costly.Guard // nil: DecodeCSR is not bounded
	names   []string      // the endpoints' names, for fault rules
}

// Config wires a Handler.
type Config struct {
	DCV  *dcv.Service
	Auth *accounts.Authenticator
	// TrustedProxies may mark a plain-HTTP request as HTTPS with
	// X-Forwarded-Proto: https; the header from anyone else is ignored.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	// RequestLimit bounds each account's requests (limits.go); the zero
	// value sets no limit.
	RequestLimit RequestLimit
	// Admission refuses the calls that write while the database's writes
	// are backlogged (limits.go); nil refuses none.
	Admission *admission.Gate
	// Observe, when set, hears of every answered call: its name
	// ("ResendDCVEmail", "download/GetDCVEmailAddressList"), its errorCode
	// and how long it took (the metrics).
	Observe func(endpoint string, errorCode int, elapsed time.Duration)
	// Faults are the test controls' fault rules (docs/control.md); nil
	// without --test-controls.
	Faults *faults.Set
	// Costly bounds DecodeCSR's key checks, which anyone may ask for, per
	// source and in all (internal/costly); nil bounds nothing.
	Costly *costly.Guard
}

// New returns the API handler. Its routes are the paths of docs/api.md section
// 1; the `!` of each may arrive percent-encoded.
func New(cfg Config) *Handler {
	h := &Handler{dcv: cfg.DCV, auth: cfg.Auth, proxies: cfg.TrustedProxies, log: cfg.Log, mux: http.NewServeMux(),
		limiter: newAccountLimiter(cfg.RequestLimit), gate: cfg.Admission, observe: cfg.Observe, faults: cfg.Faults,
		costly: cfg.Costly}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.route("/products/!ResendDCVEmail", wire.FormatForm, h.resend)
	h.route("/products/!GetDCVEmailAddressList", wire.FormatText, h.addressList)
	h.route("/products/download/!GetDCVEmailAddressList", wire.FormatText, h.addressList)
	h.route("/products/!GetMDCDomainDetails", wire.FormatForm, h.details)
	h.route("/products/!AutoUpdateDCV", wire.FormatForm, h.autoUpdate)
	if cfg.DCV != nil && cfg.DCV.Orders() != nil {
		h.routeOrders() // orders.go
	}
	return h
}

// Handle adds another route to the handler's mux (the confirmation page).
func (h *Handler) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

// call is one API request in progress: its id, its answer's format, and the
// errorCode it got, for the log.
type call struct {
	id     string
	format wire.Format
	code   wire.Code
	https  bool
	// name is the endpoint's name in fault rules; login and order are the
	// request's, for fault rules, once parsed.
	name   string
	parsed bool
	login  string
	order  int64
	// password is the request's loginPassword, kept only to be cut out of
	// whatever an error or a panic would put in the log.
	password string
}

// redact removes the request's password from text bound for the log.
func (c *call) redact(s string) string { return redactor{secrets: []string{c.password}}.redact(s) }

type callKey struct{}

// route registers an API endpoint for every method (the handler itself
// answers -17 to other methods, as the contract asks).
func (h *Handler) route(urlPath string, defaultFormat wire.Format, fn func(http.ResponseWriter, *http.Request, *call)) {
	endpoint := strings.ReplaceAll(strings.TrimPrefix(urlPath, "/products/"), "!", "")
	name := path.Base(endpoint)
	if !slices.Contains(h.names, name) {
		h.names = append(h.names, name)
	}
	h.mux.HandleFunc(urlPath, func(w http.ResponseWriter, r *http.Request) {
		c := &call{id: newRequestID(), format: defaultFormat, https: h.isHTTPS(r), name: name}
		start := time.Now()
		defer func() {
			if p := recover(); p == http.ErrAbortHandler {
				// A fault rule's drop: the server closes the connection.
				h.log.Info("api", "request", c.id, "path", r.URL.Path, "method", r.Method, "remote", r.RemoteAddr, "fault", "drop")
				panic(p)
			} else if p != nil {
				h.log.Error("panic in API handler", "request", c.id, "panic", c.redact(fmt.Sprint(p)), "stack", c.redact(string(debug.Stack())))
				h.writeError(w, c, &wire.Error{Code: wire.Internal, Detail: "request id " + c.id})
			}
			h.log.Info("api", "request", c.id, "path", r.URL.Path, "method", r.Method, "remote", r.RemoteAddr,
				"errorCode", int(c.code), "ms", time.Since(start).Milliseconds())
			if h.observe != nil {
				h.observe(endpoint, int(c.code), time.Since(start))
			}
		}()
		r = r.WithContext(context.WithValue(r.Context(), callKey{}, c))
		if !h.faults.Active() {
			fn(w, r, c)
			return
		}
		rec := faults.NewRecorder(w)
		fn(rec, r, c)
		if c.parsed {
			if rule, ok := h.faults.Fire(r.Context(), faults.After, name, c.login, c.order); ok && rule.Answer(w, r, h.faultAnswer(c)) {
				return
			}
		}
		rec.Flush()
	})
}

// Endpoints are the names of the API's calls, as fault rules name them.
func (h *Handler) Endpoints() []string { return slices.Clone(h.names) }

// faultAnswer encodes a fault rule's errorCode in the call's format.
func (h *Handler) faultAnswer(c *call) func(wire.Code, string) (string, []byte) {
	return func(code wire.Code, msg string) (string, []byte) {
		c.code = code
		return c.format.ContentType(), wire.EncodeError(c.format, &wire.Error{Code: code, Text: msg})
	}
}

// fault applies a before-phase fault rule that hits the call, once its
// parameters are parsed; it tells whether the rule answered.
func (h *Handler) fault(w http.ResponseWriter, r *http.Request, c *call, a args) bool {
	c.parsed, c.login, c.order = true, a.str("loginName"), a.int("orderNumber")
	if c.order == 0 {
		c.order = a.int("baseOrderNumber")
	}
	if !h.faults.Active() {
		return false
	}
	rule, ok := h.faults.Fire(r.Context(), faults.Before, c.name, c.login, c.order)
	return ok && rule.Answer(w, r, h.faultAnswer(c))
}

// ServeHTTP serves the API and whatever was added with Handle.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// isHTTPS tells whether a request came over TLS, directly or through a
// trusted proxy that says so.
func (h *Handler) isHTTPS(r *http.Request) bool { return h.proxies.Of(r).HTTPS }

// authenticate is check 6: the login and password.
func (h *Handler) authenticate(r *http.Request, a args) (model.Account, error) {
	acct, err := h.auth.AuthenticateFrom(r.Context(), a.str("loginName"), a.str("loginPassword"), h.sourceOf(r))
	if errors.Is(err, accounts.ErrBadLogin) {
		return acct, wire.Errorf(wire.BadLogin, "")
	}
	return acct, err
}

// write sends a successful answer; every answer is HTTP 200.
func (h *Handler) write(w http.ResponseWriter, c *call, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", c.format.ContentType())
	hdr.Set("Cache-Control", "no-store")
	// An answer echoes what the client sent (a -2 names its parameter):
	// browsers must not read it as anything but its declared type.
	hdr.Set("X-Content-Type-Options", "nosniff")
	if c.https {
		// Browsers heed HSTS only over HTTPS (RFC 6797 section 7.2).
		hdr.Set("Strict-Transport-Security", "max-age=31536000")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (h *Handler) writeError(w http.ResponseWriter, c *call, e *wire.Error) {
	c.code = e.Code
	h.write(w, c, wire.EncodeError(c.format, e))
}

// fail answers err: a wire error as it is, a dcv refusal as its errorCode,
// anything else as -14 with a request id that the log explains.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var we *wire.Error
	if errors.As(err, &we) {
		h.writeError(w, c, we)
		return
	}
	if e, ok := dcv.AsError(err); ok {
		switch e.Kind {
		case dcv.Invalid:
			h.writeError(w, c, &wire.Error{Code: wire.InvalidArgument, Item: e.Item, Detail: e.Detail})
			return
		case dcv.CannotResend:
			h.writeError(w, c, &wire.Error{Code: wire.CannotResend, Detail: e.Detail})
			return
		case dcv.Forbidden:
			h.writeError(w, c, &wire.Error{Code: wire.PermissionDenied})
			return
		case dcv.Missing:
			h.writeError(w, c, &wire.Error{Code: wire.MissingArgument, Item: e.Item, Detail: e.Detail})
			return
		}
	}
	if r.Context().Err() != nil {
		// The client went away (or its body never came): nothing failed here.
		h.log.Info("request abandoned by the client", "request", c.id, "path", r.URL.Path)
		h.writeError(w, c, &wire.Error{Code: wire.Internal, Detail: "request id " + c.id})
		return
	}
	// The error, never the request's parameters; and should the error quote
	// the password, not that either.
	h.log.Error("internal failure", "request", c.id, "path", r.URL.Path, "err", c.redact(err.Error()))
	h.writeError(w, c, &wire.Error{Code: wire.Internal, Detail: "request id " + c.id})
}

// begin runs checks 1 to 5, then for a call that writes the admission
// gate, then check 6 and the account's request limit, and returns the
// arguments and the caller.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, c *call, ep *endpoint) (args, model.Account, bool) {
	a, werr := h.parse(r, ep)
	c.format = a.format
	if werr != nil {
		h.writeError(w, c, werr)
		return a, model.Account{}, false
	}
	c.password = a.str("loginPassword")
	if h.fault(w, r, c, a) {
		return a, model.Account{}, false
	}
	if ep.writes && !h.gate.Admit() {
		h.backlogged(w, c)
		return a, model.Account{}, false
	}
	acct, err := h.authenticate(r, a)
	if errors.Is(err, accounts.ErrBusy) {
		h.busy(w, c)
		return a, acct, false
	}
	if err != nil {
		h.fail(w, r, c, err)
		return a, acct, false
	}
	if !h.limitRequest(w, c, acct) {
		return a, acct, false
	}
	return a, acct, true
}
