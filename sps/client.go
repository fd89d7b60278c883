package sps

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// DefaultBaseURL is the vendor's endpoint, used when Client.BaseURL is empty.
const DefaultBaseURL = "https://secure.trust-provider.com"

// Client calls the API. The zero value is not useful: set at least the
// login. A Client is safe for concurrent use as long as its fields are not
// changed meanwhile.
//
// The password travels in the body of every request, as the API wants, and
// never in a URL. Printing a Client with fmt or log/slog shows
// "[REDACTED]" in its place, and no error returned by this package contains
// it. For the same reason the client never follows redirects (a redirected
// POST could carry the password to another host) and refuses plain http://
// except to a loopback address, where tests run.
type Client struct {
	// BaseURL is the scheme and host of the API, with an optional path
	// prefix; DefaultBaseURL when empty. For dcvmail, its address, e.g.
	// "https://dcv.example.net:8443".
	BaseURL string

	// LoginName and LoginPassword are the account's credentials, sent with
	// every call as loginName and loginPassword.
	LoginName     string
	LoginPassword string `json:"-"`

	// HTTPClient makes the requests; when nil, a client with a one-minute
	// timeout and Go's default transport. Its CheckRedirect is not used:
	// redirects are never followed. To trust dcvmail's self-signed
	// certificate, give a client whose transport has the right RootCAs.
	HTTPClient *http.Client `json:"-"`
}

var defaultHTTPClient = &http.Client{Timeout: time.Minute}

const (
	// maxAttempts bounds the tries of one call, the first included.
	maxAttempts = 3
	// maxAnswer is the largest answer read; real ones are a few KiB.
	maxAnswer = 1 << 20
	userAgent = "dcvmail-sps/1 (Go)"
	redacted  = "[REDACTED]"
)

// retryDelay is the pause before the second try; it doubles for the third.
// A variable so that tests need not wait.
var retryDelay = 100 * time.Millisecond

// errPlainHTTP refuses to send credentials in clear text.
var errPlainHTTP = errors.New("sps: refusing to send the password over plain http:// to a host that is not a loopback address; use https://")

// endpoint is the URL of the API path, e.g. "/products/!ResendDCVEmail".
func (c *Client) endpoint(path string) (string, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		// The parser's error quotes BaseURL, which may hold a password.
		return "", errors.New("sps: BaseURL is not a valid URL")
	}
	if u.Host == "" {
		return "", errors.New("sps: BaseURL has no host")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", errPlainHTTP
		}
	default:
		return "", fmt.Errorf("sps: BaseURL scheme %q is not https", u.Scheme)
	}
	// Go would escape the '!' as %21; RawPath keeps it raw, as the
	// vendor's samples send it.
	u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + path
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.Fragment = ""
	return u.String(), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient is a copy of the configured client that never follows
// redirects.
func (c *Client) httpClient() *http.Client {
	hc := defaultHTTPClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// params collects request parameters in order, leaving out empty ones.
type params []wire.Pair

func (p *params) add(name, value string) {
	if value != "" {
		*p = append(*p, wire.Pair{Name: name, Value: value})
	}
}

// addInt adds n unless it is zero, which means "absent".
func (p *params) addInt(name string, n int64) {
	if n != 0 {
		p.add(name, strconv.FormatInt(n, 10))
	}
}

// attempt is the outcome of one try.
type attempt struct {
	body      []byte
	status    int  // HTTP status when not 200
	notSent   bool // failed while connecting: the server saw nothing
	permanent bool // trying again cannot help
	err       error
}

// post sends one API call and returns the body of its 200 answer. readOnly
// calls are retried on more failures than calls that change state, which
// are retried only when they certainly never reached the server.
// It returns the body and the number of tries.
func (c *Client) post(ctx context.Context, op, path string, ps params, readOnly bool) ([]byte, int, error) {
	endpoint, err := c.endpoint(path)
	if err != nil {
		return nil, 0, err
	}
	all := params{}
	all.add("loginName", c.LoginName)
	all.add("loginPassword", c.LoginPassword)
	body := wire.EncodeForm(append(all, ps...))
	hc := c.httpClient()

	delay := retryDelay
	for n := 1; ; n++ {
		a := c.try(ctx, hc, endpoint, body)
		if a.err == nil {
			return a.body, n, nil
		}
		if n == maxAttempts || !retryable(ctx, a, readOnly) {
			return nil, n, c.transportError(op, n, a)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			a.err = fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), a.err)
			return nil, n, c.transportError(op, n, a)
		case <-t.C:
		}
		delay *= 2
	}
}

func (c *Client) try(ctx context.Context, hc *http.Client, endpoint string, body []byte) attempt {
	// WroteHeaders fires once any of the request was handed to the
	// connection; until then, nothing of it can have reached the server.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return attempt{notSent: true, permanent: true, err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return attempt{notSent: !wrote.Load() && isDialError(err), err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if resp.StatusCode != http.StatusOK {
		msg := "HTTP status " + resp.Status
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			msg += " (redirect to " + redactURL(loc) + " not followed)"
		}
		if s := c.snippet(b); s != "" {
			msg += ": " + s
		}
		return attempt{status: resp.StatusCode, err: errors.New(c.redact(msg))}
	}
	if err != nil {
		return attempt{err: fmt.Errorf("reading the answer: %w", err)}
	}
	if len(b) > maxAnswer {
		return attempt{err: fmt.Errorf("answer larger than %d bytes", maxAnswer)}
	}
	return attempt{body: b}
}

// isDialError reports a failure to open the connection (refused,
// unreachable, DNS), before any byte of the request could be sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func retryable(ctx context.Context, a attempt, readOnly bool) bool {
	if a.permanent || ctx.Err() != nil {
		return false
	}
	if a.notSent {
		return true
	}
	if !readOnly {
		return false
	}
	if a.status != 0 {
		return a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout
	}
	return transient(a.err)
}

// transient reports a network failure that may go away: a reset or closed
// connection, a timeout. Certificate failures do not.
func transient(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &recordErr) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (c *Client) transportError(op string, attempts int, a attempt) *TransportError {
	e := &TransportError{Op: op, StatusCode: a.status, Attempts: attempts, NotSent: a.notSent, Err: a.err}
	msg := "sps: " + op + ": " + errString(a.err)
	if attempts > 1 {
		msg += " (" + strconv.Itoa(attempts) + " attempts)"
	}
	e.msg = c.redact(msg)
	return e
}

// undecodable is the transport error of a 200 answer that is not one of
// this API.
func (c *Client) undecodable(op string, attempts int, body []byte, cause error) *TransportError {
	err := fmt.Errorf("undecodable answer: %w", cause)
	if s := c.snippet(body); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	return c.transportError(op, attempts, attempt{err: err})
}

// call makes one API call and decodes its answer; a negative errorCode is
// an *Error. bad turns a failure to read the rest of the answer into a
// transport error.
func (c *Client) call(ctx context.Context, op, path string, ps params, readOnly bool) (a *answer, bad func(cause error) error, err error) {
	body, attempts, err := c.post(ctx, op, path, ps, readOnly)
	if err != nil {
		return nil, nil, err
	}
	a, err = c.decodeStatus(op, attempts, body)
	if err != nil {
		return nil, nil, err
	}
	return a, func(cause error) error { return c.undecodable(op, attempts, body, cause) }, nil
}

// decodeStatus decodes body; a negative errorCode is an *Error.
func (c *Client) decodeStatus(op string, attempts int, body []byte) (*answer, error) {
	a, err := decodeAnswer(body)
	if err != nil {
		return nil, c.undecodable(op, attempts, body, err)
	}
	if a.status.Code < 0 {
		return nil, c.apiError(a.status)
	}
	return a, nil
}

// apiError turns a negative status into an *Error.
func (c *Client) apiError(st wire.Status) *Error {
	msg := st.Message
	if msg == "" && wire.Known(st.Code) {
		msg = wire.Message(st.Code, st.Item)
	}
	item := st.Item
	if item == "" {
		item = wire.ItemFromMessage(st.Code, msg)
	}
	return &Error{Code: int(st.Code), Message: c.redact(msg), Item: c.redact(item), Detail: c.redact(st.Detail)}
}

// redact removes the password, as sent or escaped, from s: a server or
// proxy may echo the request in an error page.
func (c *Client) redact(s string) string {
	pw := c.LoginPassword
	if pw == "" {
		return s
	}
	for _, form := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		s = strings.ReplaceAll(s, form, redacted)
	}
	return s
}

// snippet is the start of a body, for error messages: printable, on one
// line, without the password (removed before cutting, so that no part of
// it survives the cut).
func (c *Client) snippet(b []byte) string {
	s := c.redact(string(b))
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	const max = 120
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// String describes c with the password redacted.
func (c Client) String() string {
	return fmt.Sprintf("sps.Client{BaseURL:%q, LoginName:%q, LoginPassword:%q}", redactURL(c.BaseURL), c.LoginName, c.redactedPassword())
}

// GoString is like String, for %#v.
func (c Client) GoString() string {
	return fmt.Sprintf("sps.Client{BaseURL:%q, LoginName:%q, LoginPassword:%q, HTTPClient:(*http.Client)(%p)}", redactURL(c.BaseURL), c.LoginName, c.redactedPassword(), c.HTTPClient)
}

// Format makes every fmt verb print String (GoString for %#v), so that no
// verb prints the password.
func (c Client) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, c.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(c.String()))
	default:
		io.WriteString(f, c.String())
	}
}

// MarshalJSON encodes c without the password, and with BaseURL's own
// password, if any, redacted.
func (c Client) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		BaseURL, LoginName, LoginPassword string
	}{redactURL(c.BaseURL), c.LoginName, c.redactedPassword()})
}

// LogValue makes log/slog log c without the password.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("baseURL", redactURL(c.BaseURL)),
		slog.String("loginName", c.LoginName),
		slog.String("loginPassword", c.redactedPassword()),
	)
}

func (c Client) redactedPassword() string {
	if c.LoginPassword == "" {
		return ""
	}
	return redacted
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
