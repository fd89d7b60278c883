package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/pgtest"
)

// With DCVMAIL_TEST_BACKEND=postgres the tests here run on PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }

// ctl drives a server's admin listener as an integrator's test suite does:
// over HTTP, with JSON.
type ctl struct {
	*dcvtest.Env
	base  string
	token string
	host  string // "" for the listener's own address
}

func start(t *testing.T, o dcvtest.Options) *ctl {
	t.Helper()
	o.AdminListen = true
	env := dcvtest.Start(t, o)
	return &ctl{Env: env, base: env.Server.AdminURL(), token: o.AdminToken}
}

// do sends a request to the admin listener; body is sent as JSON unless it
// is a string (sent as it is) or nil.
func (c *ctl) do(method, path string, body any) (int, string) {
	c.T.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.T.Fatal(err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// want sends a request, requires the status and decodes the answer into
// out (when not nil).
func (c *ctl) want(status int, method, path string, body, out any) string {
	c.T.Helper()
	got, b := c.do(method, path, body)
	if got != status {
		c.T.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, got, status, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			c.T.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

// wantError sends a request that must fail with status and a JSON error
// sentence; it returns the sentence.
func (c *ctl) wantError(status int, method, path string, body any) string {
	c.T.Helper()
	var e struct {
		Error string `json:"error"`
	}
	c.want(status, method, path, body, &e)
	if len(e.Error) < 10 {
		c.T.Fatalf("%s %s: HTTP %d without a sentence: %q", method, path, status, e.Error)
	}
	return e.Error
}
