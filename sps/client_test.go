package sps

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// AfterTests run once all tests and examples have (the examples' dcvmail
// server registers its shutdown here).
var AfterTests []func()

func TestMain(m *testing.M) {
	retryDelay = time.Millisecond
	code := m.Run()
	for _, f := range AfterTests {
		f()
	}
	os.Exit(code)
}

// recorded is one request as the server saw it.
type recorded struct {
	method, path, contentType string
	pairs                     []wire.Pair
}

// fakeServer answers every request with answer(path) and records it.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFakeServer(t *testing.T, answer func(path string) string) *fakeServer {
	t.Helper()
	fs := &fakeServer{}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pairs := wire.ParseForm(string(body))
		for _, p := range pairs {
			if p.Bad {
				t.Errorf("request body %q: bad escape in %q", body, p.Name)
			}
		}
		fs.mu.Lock()
		fs.reqs = append(fs.reqs, recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), pairs})
		fs.mu.Unlock()
		io.WriteString(w, answer(r.URL.Path))
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fakeServer) requests() []recorded {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]recorded(nil), fs.reqs...)
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	answers := map[string]string{
		"/products/!ResendDCVEmail":         "errorCode=0",
		"/products/!AutoUpdateDCV":          "errorCode=0",
		"/products/!GetDCVEmailAddressList": "0\nlevel2_email\tadmin@example.com\n",
		"/products/!GetMDCDomainDetails":    "errorCode=0&1_domainName=example.com",
	}
	fs := newFakeServer(t, func(path string) string { return answers[strings.TrimPrefix(path, "/api")] })
	// A path prefix in BaseURL is kept; its trailing slash is not doubled.
	c := &Client{BaseURL: fs.URL + "/api/", LoginName: "login_name", LoginPassword: "p&ss=w+rd %"}
	creds := []wire.Pair{{Name: "loginName", Value: "login_name"}, {Name: "loginPassword", Value: "p&ss=w+rd %"}}
	with := func(ps ...wire.Pair) []wire.Pair { return append(append([]wire.Pair(nil), creds...), ps...) }

	calls := []struct {
		name  string
		call  func() error
		path  string
		pairs []wire.Pair
	}{
		{"resend, minimal", func() error {
			_, err := c.ResendDCVEmail(ctx, ResendDCVEmailRequest{OrderNumber: 1234567})
			return err
		}, "/api/products/!ResendDCVEmail", with(wire.Pair{Name: "orderNumber", Value: "1234567"})},
		{"resend, all", func() error {
			_, err := c.ResendDCVEmail(ctx, ResendDCVEmailRequest{OrderNumber: 1, BaseOrderNumber: 2, DCVEmailAddress: "admin@example.com", DCVTemplateID: 3})
			return err
		}, "/api/products/!ResendDCVEmail", with(wire.Pair{Name: "orderNumber", Value: "1"}, wire.Pair{Name: "baseOrderNumber", Value: "2"}, wire.Pair{Name: "dcvEmailAddress", Value: "admin@example.com"}, wire.Pair{Name: "dcvTemplateID", Value: "3"})},
		{"addresses, text", func() error {
			r, err := c.GetDCVEmailAddressList(ctx, GetDCVEmailAddressListRequest{DomainName: "*.example.com"})
			if err == nil && !reflect.DeepEqual(r.Emails(), []string{"admin@example.com"}) {
				t.Errorf("addresses: %+v", r)
			}
			return err
		}, "/api/products/!GetDCVEmailAddressList", with(wire.Pair{Name: "domainName", Value: "*.example.com"})},
		{"addresses, json", func() error {
			_, err := c.GetDCVEmailAddressList(ctx, GetDCVEmailAddressListRequest{DomainName: "example.com", Product: 801, JSON: true})
			return err
		}, "/api/products/!GetDCVEmailAddressList", with(wire.Pair{Name: "domainName", Value: "example.com"}, wire.Pair{Name: "product", Value: "801"}, wire.Pair{Name: "responseFormat", Value: "2"})},
		{"details", func() error {
			r, err := c.GetMDCDomainDetails(ctx, GetMDCDomainDetailsRequest{OrderNumber: 5, ShowStatusDetails: true, JSON: true})
			if err == nil && (len(r.Domains) != 1 || r.Domains[0].DomainName != "example.com") {
				t.Errorf("details: %+v", r)
			}
			return err
		}, "/api/products/!GetMDCDomainDetails", with(wire.Pair{Name: "orderNumber", Value: "5"}, wire.Pair{Name: "showStatusDetails", Value: "Y"}, wire.Pair{Name: "responseFormat", Value: "2"})},
		{"details, defaults", func() error {
			_, err := c.GetMDCDomainDetails(ctx, GetMDCDomainDetailsRequest{OrderNumber: 5})
			return err
		}, "/api/products/!GetMDCDomainDetails", with(wire.Pair{Name: "orderNumber", Value: "5"})},
		{"update, plural", func() error {
			_, err := c.AutoUpdateDCV(ctx, AutoUpdateDCVRequest{BaseOrderNumber: 9, DomainNames: []string{"a.com", "b.com"},
				NewMethods: []string{MethodEmail, MethodCNAMECSRHash}, NewDCVEmailAddresses: []string{"admin@a.com", "admin@b.com"}, DCVTemplateID: 4})
			return err
		}, "/api/products/!AutoUpdateDCV", with(wire.Pair{Name: "baseOrderNumber", Value: "9"}, wire.Pair{Name: "domainNames", Value: "a.com b.com"},
			wire.Pair{Name: "newMethods", Value: "EMAIL,CNAME_CSR_HASH"}, wire.Pair{Name: "newDCVEmailAddresses", Value: "admin@a.com admin@b.com"}, wire.Pair{Name: "dcvTemplateID", Value: "4"})},
		{"update, single", func() error {
			_, err := c.AutoUpdateDCV(ctx, AutoUpdateDCVRequest{OrderNumber: 9, DomainName: "a.com", NewMethod: MethodEmail, NewDCVEmailAddress: "admin@a.com"})
			return err
		}, "/api/products/!AutoUpdateDCV", with(wire.Pair{Name: "orderNumber", Value: "9"}, wire.Pair{Name: "domainName", Value: "a.com"}, wire.Pair{Name: "newMethod", Value: "EMAIL"}, wire.Pair{Name: "newDCVEmailAddress", Value: "admin@a.com"})},
	}
	for i, tt := range calls {
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		reqs := fs.requests()
		if len(reqs) != i+1 {
			t.Fatalf("%s: %d requests so far, want %d", tt.name, len(reqs), i+1)
		}
		got := reqs[i]
		if got.method != http.MethodPost || got.contentType != "application/x-www-form-urlencoded" || got.path != tt.path {
			t.Errorf("%s: %s %s (%s), want POST %s (application/x-www-form-urlencoded)", tt.name, got.method, got.path, got.contentType, tt.path)
		}
		if !reflect.DeepEqual(got.pairs, tt.pairs) {
			t.Errorf("%s: parameters %+v, want %+v", tt.name, got.pairs, tt.pairs)
		}
	}
}

func TestEmptyLoginNotSent(t *testing.T) {
	fs := newFakeServer(t, func(string) string { return "errorCode=-3&errorItem=loginName" })
	c := &Client{BaseURL: fs.URL}
	_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("err = %v", err)
	}
	if reqs := fs.requests(); len(reqs) != 1 || len(reqs[0].pairs) != 0 {
		t.Errorf("requests = %+v, want one with no parameters", reqs)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		base, want string
		wantErr    bool
	}{
		{"", "https://secure.trust-provider.com/products/!ResendDCVEmail", false},
		{"https://dcv.example.net:8443", "https://dcv.example.net:8443/products/!ResendDCVEmail", false},
		{"https://dcv.example.net/prefix/", "https://dcv.example.net/prefix/products/!ResendDCVEmail", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/products/!ResendDCVEmail", false},
		{"http://[::1]:8080", "http://[::1]:8080/products/!ResendDCVEmail", false},
		{"http://localhost", "http://localhost/products/!ResendDCVEmail", false},
		{"http://dcv.example.net", "", true},
		{"ftp://dcv.example.net", "", true},
		{"dcv.example.net", "", true},
		{"https://user:pa ss@%zz", "", true},
	}
	for _, tt := range tests {
		got, err := (&Client{BaseURL: tt.base}).endpoint(pathResendDCVEmail)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("endpoint(%q) = %q, %v; want %q, error %t", tt.base, got, err, tt.want, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "pa ss") {
			t.Errorf("endpoint(%q) error quotes the URL: %v", tt.base, err)
		}
	}
	// Refused before anything is sent, and not a transport failure.
	_, err := (&Client{BaseURL: "http://dcv.example.net"}).ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
	if !errors.Is(err, errPlainHTTP) || errors.Is(err, ErrTransport) {
		t.Errorf("plain http: %v", err)
	}
}

func TestNoRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, "errorCode=0")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, LoginName: "n", LoginPassword: "pw"}
	_, err := c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
	var te *TransportError
	if !errors.As(err, &te) || te.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("err = %v, want a transport error for the 307", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

func TestTransportErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"404 page", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 404},
		{"html 200", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>Maintenance</body></html>")
		}, 0},
		{"empty 200", func(w http.ResponseWriter, r *http.Request) {}, 0},
		{"huge 200", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "errorCode=0&x=")
			w.Write(make([]byte, maxAnswer))
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, LoginName: "n", LoginPassword: "pw"}
			_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
			var te *TransportError
			if !errors.Is(err, ErrTransport) || !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *TransportError", err)
			}
			if te.StatusCode != tt.status || te.Op != "ResendDCVEmail" || te.NotSent {
				t.Errorf("%+v", te)
			}
			var apiErr *Error
			if errors.As(err, &apiErr) {
				t.Errorf("transport error is also an *Error")
			}
		})
	}
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// countingTransport counts round trips, one per attempt of the client.
type countingTransport struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ct.n.Add(1)
	return ct.base.RoundTrip(r)
}

func newCountingClient() (*http.Client, *countingTransport) {
	ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	return &http.Client{Transport: ct, Timeout: 5 * time.Second}, ct
}

// A refused connection never reached the server: every call may be
// retried, the ones that change state included.
func TestRetryDialFailure(t *testing.T) {
	addr := closedAddr(t)
	for name, call := range map[string]func(*Client) error{
		"GetMDCDomainDetails": func(c *Client) error {
			_, err := c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
			return err
		},
		"GetDCVEmailAddressList": func(c *Client) error {
			_, err := c.GetDCVEmailAddressList(context.Background(), GetDCVEmailAddressListRequest{DomainName: "example.com"})
			return err
		},
		"ResendDCVEmail": func(c *Client) error {
			_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			hc, ct := newCountingClient()
			c := &Client{BaseURL: "http://" + addr, LoginName: "n", LoginPassword: "pw", HTTPClient: hc}
			err := call(c)
			var te *TransportError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v", err)
			}
			if n := ct.n.Load(); n != maxAttempts || te.Attempts != maxAttempts || !te.NotSent {
				t.Errorf("%d round trips, %+v; want %d attempts, NotSent", n, te, maxAttempts)
			}
			if !isDialError(err) {
				t.Errorf("cause is not a dial error: %v", err)
			}
		})
	}
}

// dropAfterRead reads the whole request, then closes the connection
// without an answer: the server may have acted on it.
func dropAfterRead(n *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		n.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
	}
}

func TestNoRetryAfterSend(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(dropAfterRead(&n))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, LoginName: "n", LoginPassword: "pw"}

	_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
	var te *TransportError
	if !errors.As(err, &te) || te.NotSent || te.Attempts != 1 {
		t.Errorf("resend: %v (%+v), want one attempt, maybe sent", err, te)
	}
	if got := n.Swap(0); got != 1 {
		t.Errorf("resend reached the server %d times, want 1", got)
	}

	_, err = c.AutoUpdateDCV(context.Background(), AutoUpdateDCVRequest{OrderNumber: 1, NewMethod: MethodEmail})
	if !errors.Is(err, ErrTransport) {
		t.Errorf("update: %v", err)
	}
	if got := n.Swap(0); got != 1 {
		t.Errorf("update reached the server %d times, want 1", got)
	}

	// The read-only calls are retried.
	_, err = c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
	if !errors.As(err, &te) || te.Attempts != maxAttempts {
		t.Errorf("details: %v", err)
	}
	if got := n.Swap(0); got != maxAttempts {
		t.Errorf("details reached the server %d times, want %d", got, maxAttempts)
	}
}

func TestRetryStatus(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "errorCode=0&1_domainName=a.com")
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, LoginName: "n", LoginPassword: "pw"}

	r, err := c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
	if err != nil || len(r.Domains) != 1 || n.Load() != 3 {
		t.Errorf("details after two 503s: %+v, %v, %d tries", r, err, n.Load())
	}

	n.Store(0)
	_, err = c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
	var te *TransportError
	if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable || n.Load() != 1 {
		t.Errorf("resend on 503: %v, %d tries, want one", err, n.Load())
	}
}

func TestNoRetryAfterTimeout(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{BaseURL: srv.URL, LoginName: "n", LoginPassword: "pw", HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}
	_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
	if !errors.Is(err, ErrTransport) || n.Load() != 1 {
		t.Errorf("resend timing out: %v, %d tries, want one", err, n.Load())
	}
	n.Store(0)
	_, err = c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
	if !errors.Is(err, ErrTransport) || n.Load() != maxAttempts {
		t.Errorf("details timing out: %v, %d tries, want %d", err, n.Load(), maxAttempts)
	}
}

func TestRetryRespectsContext(t *testing.T) {
	old := retryDelay
	retryDelay = time.Hour
	defer func() { retryDelay = old }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	hc, ct := newCountingClient()
	c := &Client{BaseURL: "http://" + closedAddr(t), LoginName: "n", LoginPassword: "pw", HTTPClient: hc}
	start := time.Now()
	_, err := c.GetMDCDomainDetails(ctx, GetMDCDomainDetailsRequest{OrderNumber: 1})
	if !errors.Is(err, ErrTransport) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a transport error wrapping the deadline", err)
	}
	if ct.n.Load() != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("%d tries in %v, want 1 try ended by the context", ct.n.Load(), time.Since(start))
	}
}
