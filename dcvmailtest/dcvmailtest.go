// Package dcvmailtest starts a real dcvmail inside a Go test, in the spirit
// of net/http/httptest: one call gives a running server on a temporary
// SQLite database, with TLS, the built-in mailbox and the test controls,
// and the test's end stops it and removes its files.
//
//	func TestResend(t *testing.T) {
//		srv := dcvmailtest.Start(t)
//		order := srv.AddOrder("www.example.com")
//		_, err := srv.Client.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{
//			OrderNumber: order, DCVEmailAddress: "admin@example.com"})
//		...
//		msg := srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
//		srv.Confirm(order, msg.DCVCode) // "confirmed"
//	}
//
// Everything the package does goes through the server's documented HTTP
// interfaces (the API, the confirmation page and the admin listener, see
// docs/control.md), the same ones a test in another language drives with
// curl: what passes here passes there.
package dcvmailtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/sps"
)

// DefaultLogin is the account Start creates and Server.Client logs in as.
const DefaultLogin = "reseller"

// Options adjust the server. The zero value is what most tests want.
type Options struct {
	// Log receives the server's log lines; nil discards them.
	Log io.Writer
	// DB is a database URL (for example a postgres:// URL of a database
	// the test owns); "" is a SQLite file in a temporary directory.
	DB string
}

// Server is a running dcvmail.
type Server struct {
	// URL is the API's base URL (https://127.0.0.1:PORT): give it to the
	// code under test as the vendor's address.
	URL string
	// AdminURL is the admin listener (http://127.0.0.1:PORT): the mailbox,
	// the clock, faults, accounts and orders.
	AdminURL string
	// HTTPClient trusts the server's self-signed certificate.
	HTTPClient *http.Client
	// CertPEM is the server's certificate, for clients in other processes.
	CertPEM []byte
	// Client is an API client logged in as DefaultLogin.
	Client *sps.Client
	// Mailbox, Clock and Faults are the server's test controls.
	Mailbox *Mailbox
	Clock   *Clock
	Faults  *Faults

	srv  *server.Server
	done chan error
	dir  string
	tb   testing.TB // nil when made by New
}

// fail reports err: it fails the test, or panics outside one.
func (s *Server) fail(err error) {
	if s.tb != nil {
		s.tb.Helper()
		s.tb.Fatalf("dcvmailtest: %v", err)
	}
	panic("dcvmailtest: " + err.Error())
}

// Start starts a server for the test; it stops when the test ends. Its
// methods fail the test (t.Fatal) when the server refuses, so call them
// from the test's goroutine.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("dcvmailtest: %v", err)
	}
	s.tb = t
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("dcvmailtest: %v", err)
		}
	})
	return s
}

// New starts a server outside a test (for examples and TestMain); Close
// stops it. The methods of a server made by New panic when the server
// refuses, as httptest.NewServer does when it cannot listen.
func New(o Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "dcvmailtest-")
	if err != nil {
		return nil, err
	}
	s, err := start(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func start(dir string, o Options) (*Server, error) {
	logOut := o.Log
	if logOut == nil {
		logOut = io.Discard
	}
	// The server's own flags, as `dcvmail serve` reads them: every other
	// setting keeps its documented default.
	args := []string{
		"--data", dir,
		"--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0",
		"--dns-resolver", "none", // a test never asks the internet
		"--test-controls",
	}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	var cfg config.Serve
	fs := flag.NewFlagSet("dcvmailtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config.BindServe(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	srv, err := server.New(context.Background(), cfg,
		server.WithLogger(slog.New(slog.NewTextHandler(logOut, nil))))
	if err != nil {
		return nil, fmt.Errorf("start dcvmail: %w", err)
	}
	s := &Server{srv: srv, done: make(chan error, 1), dir: dir, URL: srv.URL(), AdminURL: srv.AdminURL()}
	go func() { s.done <- srv.Serve() }()

	if s.CertPEM, err = os.ReadFile(filepath.Join(dir, "tls-cert.pem")); err != nil {
		s.Close()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CertPEM)
	s.HTTPClient = &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		Timeout:   time.Minute,
	}
	s.Mailbox = &Mailbox{s: s}
	s.Clock = &Clock{s: s}
	s.Faults = &Faults{s: s}
	password := randomPassword()
	if err := s.addAccount(DefaultLogin, password); err != nil {
		s.Close()
		return nil, err
	}
	s.Client = s.clientFor(DefaultLogin, password)
	return s, nil
}

// Dir is the server's data directory (its database and TLS files); Close
// removes it.
func (s *Server) Dir() string { return s.dir }

// Close stops the server (requests in flight finish) and removes its files.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; err == nil {
		err = serr
	}
	if s.HTTPClient != nil {
		s.HTTPClient.CloseIdleConnections()
	}
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

// AddAccount creates a reseller account and returns a client logged in
// as it.
func (s *Server) AddAccount(login string) *sps.Client {
	password := randomPassword()
	if err := s.addAccount(login, password); err != nil {
		s.fail(err)
	}
	return s.clientFor(login, password)
}

func (s *Server) addAccount(login, password string) error {
	body := map[string]any{"login": login, "password": password}
	return s.admin(http.MethodPost, "/admin/v1/accounts", body, http.StatusCreated, nil)
}

func (s *Server) clientFor(login, password string) *sps.Client {
	return &sps.Client{BaseURL: s.URL, LoginName: login, LoginPassword: password, HTTPClient: s.HTTPClient}
}

// Order describes an order to add; only Domains is required.
type Order struct {
	Account   string   // DefaultLogin when ""
	Domains   []string // the first is the order's common name
	DCVEmail  string   // when set, the first DCV email is sent to it at once
	BaseOrder int64    // the order a renewal replaces, if any
}

// AddOrder adds an order for DefaultLogin and returns its number.
func (s *Server) AddOrder(domains ...string) int64 {
	return s.AddOrderWith(Order{Domains: domains})
}

// AddOrderWith adds the order described and returns its number.
func (s *Server) AddOrderWith(o Order) int64 {
	if o.Account == "" {
		o.Account = DefaultLogin
	}
	body := map[string]any{"account": o.Account, "domains": o.Domains}
	if o.DCVEmail != "" {
		body["dcvEmail"] = o.DCVEmail
	}
	if o.BaseOrder != 0 {
		body["baseOrder"] = o.BaseOrder
	}
	var out struct {
		OrderNumber int64 `json:"orderNumber"`
	}
	if err := s.admin(http.MethodPost, "/admin/v1/orders", body, http.StatusCreated, &out); err != nil {
		s.fail(err)
	}
	return out.OrderNumber
}

// Validate marks every domain of the order validated as if its current
// method (HTTP, HTTPS, CNAME) had succeeded.
func (s *Server) Validate(order int64) {
	path := fmt.Sprintf("/admin/v1/orders/%d/validate", order)
	if err := s.admin(http.MethodPost, path, map[string]any{}, http.StatusNoContent, nil); err != nil {
		s.fail(err)
	}
}

// Reset wipes accounts, orders, mail, faults and the clock offset, then
// creates DefaultLogin again with the same password: Client keeps working.
func (s *Server) Reset() {
	if err := s.admin(http.MethodPost, "/admin/v1/reset", nil, http.StatusNoContent, nil); err != nil {
		s.fail(err)
	}
	s.Mailbox.forget()
	if err := s.addAccount(DefaultLogin, s.Client.LoginPassword); err != nil {
		s.fail(err)
	}
}

// Confirm enters a code on the confirmation page, as a domain's
// administrator does, and returns the page's outcome: "confirmed" when the
// code was accepted, otherwise the reason the page gave.
func (s *Server) Confirm(order int64, code string) string {
	form := url.Values{"orderNumber": {fmt.Sprint(order)}, "dcvCode": {code}}
	resp, err := s.HTTPClient.PostForm(s.URL+ConfirmPath, form)
	if err != nil {
		s.fail(fmt.Errorf("confirm: %w", err))
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return outcome(resp.StatusCode, string(page))
}

// ConfirmPath is the confirmation page's path on the API's address.
const ConfirmPath = "/products/EnterDCVCode2"

// outcome reads the page's machine-readable state (data-state on <main>).
func outcome(status int, page string) string {
	const attr = `data-state="`
	i := strings.Index(page, attr)
	if i < 0 {
		return fmt.Sprintf("HTTP %d", status)
	}
	rest := page[i+len(attr):]
	return rest[:strings.IndexByte(rest, '"')]
}

// admin sends a JSON request to the admin listener and decodes the answer
// into out (when not nil); any status but want is an error carrying the
// server's sentence.
func (s *Server) admin(method, path string, body any, want int, out any) error {
	return s.adminCtx(context.Background(), method, path, body, want, out)
}

func (s *Server) adminCtx(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.AdminURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &AdminError{Method: method, Path: path, Status: resp.StatusCode, Message: errorSentence(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// AdminError is an admin listener's refusal.
type AdminError struct {
	Method, Path string
	Status       int
	Message      string // the server's sentence
}

func (e *AdminError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// ErrTimeout is returned by Mailbox.WaitContext when no message came in time.
var ErrTimeout = errors.New("dcvmailtest: no matching message in time")

func errorSentence(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
