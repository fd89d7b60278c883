package clientcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/dcvmail/dcvmail/internal/wire"
)

const password = "Cl1entPassw0rd"

// server imitates the API for one account; answers maps a path to its
// answer body. It records the parameters of every request.
type server struct {
	*httptest.Server
	mu      sync.Mutex
	params  []map[string]string
	answers map[string]string
}

func newServer(t *testing.T, tlsServer bool, answers map[string]string) *server {
	s := &server{answers: answers}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := map[string]string{}
		for _, pair := range wire.ParseForm(string(body)) {
			p[pair.Name] = pair.Value
		}
		s.mu.Lock()
		s.params = append(s.params, p)
		s.mu.Unlock()
		if p["loginName"] != "login_name" || p["loginPassword"] != password {
			w.Write(wire.EncodeError(wire.FormatForm, wire.Errorf(wire.BadLogin, "")))
			return
		}
		a, ok := s.answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, a)
	})
	if tlsServer {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) last() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.params) == 0 {
		return nil
	}
	return s.params[len(s.params)-1]
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.params)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(stdin string, env map[string]string, args ...string) result {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

var withPassword = map[string]string{PasswordEnv: password}

var answers = map[string]string{
	"/products/!ResendDCVEmail":         "errorCode=0",
	"/products/!AutoUpdateDCV":          "errorCode=0",
	"/products/!GetDCVEmailAddressList": "0\ndomain_name\twww.example.com\nwhois_email\tnone\nlevel2_email\tadmin@example.com\nlevel2_email\twebmaster@example.com\nlevel3_email\tadmin@www.example.com\n",
	"/products/!GetMDCDomainDetails":    "errorCode=0&1_domainName=example.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated&1_dcvEmailAddress=admin%40example.com&1_lastSentAt=2026-03-01T09%3A30%3A00Z&1_validatedAt=2026-03-01T10%3A00%3A00Z&2_domainName=www.example.com&2_dcvMethod=CNAME_CSR_HASH&2_dcvStatus=Awaiting+Validation&2_dcvEmailAddress=&2_lastSentAt=&2_validatedAt=",
}

func TestSubcommands(t *testing.T) {
	srv := newServer(t, false, answers)
	base := []string{"--url", srv.URL, "--login", "login_name"}
	tests := []struct {
		name   string
		args   []string
		params map[string]string
		stdout string
	}{
		{"resend", []string{"resend", "--order", "1234567"},
			map[string]string{"orderNumber": "1234567"},
			"ResendDCVEmail accepted for order 1234567: DCV email to the address it was last sent to.\n"},
		{"resend all flags", []string{"resend", "--order", "1", "--base-order", "2", "--email", "admin@example.com", "--template", "3"},
			map[string]string{"orderNumber": "1", "baseOrderNumber": "2", "dcvEmailAddress": "admin@example.com", "dcvTemplateID": "3"},
			"ResendDCVEmail accepted for order 1 (base order 2): DCV email to admin@example.com.\n"},
		{"resend json", []string{"resend", "--base-order", "2", "--json"},
			map[string]string{"baseOrderNumber": "2"}, `{"errorCode":0}` + "\n"},
		{"addresses", []string{"addresses", "--domain", "www.example.com", "--product", "801"},
			map[string]string{"domainName": "www.example.com", "product": "801"},
			"domain  www.example.com\nlevel2  admin@example.com\nlevel2  webmaster@example.com\nlevel3  admin@www.example.com\n"},
		{"addresses json", []string{"addresses", "--domain", "www.example.com", "--json", "--response-format", "json"},
			map[string]string{"domainName": "www.example.com", "responseFormat": "2"},
			`{"errorCode":0,"domainName":"www.example.com","whoisEmail":[],"level2Emails":["admin@example.com","webmaster@example.com"],"level3Emails":["admin@www.example.com"],"dnsTxtEmails":[],"caaEmails":[],"warnings":[]}` + "\n"},
		{"status", []string{"status", "--order", "5"},
			map[string]string{"orderNumber": "5"},
			"DOMAIN           METHOD          STATUS               EMAIL              LAST SENT             VALIDATED\n" +
				"example.com      EMAIL           Validated            admin@example.com  2026-03-01T09:30:00Z  2026-03-01T10:00:00Z\n" +
				"www.example.com  CNAME_CSR_HASH  Awaiting Validation  -                  -                     -\n"},
		{"status json", []string{"status", "--order", "5", "--details", "--json"},
			map[string]string{"orderNumber": "5", "showStatusDetails": "Y"},
			`{"errorCode":0,"domains":[{"domainName":"example.com","dcvMethod":"EMAIL","dcvStatus":"Validated","dcvEmailAddress":"admin@example.com","lastSentAt":"2026-03-01T09:30:00Z","validatedAt":"2026-03-01T10:00:00Z"},` +
				`{"domainName":"www.example.com","dcvMethod":"CNAME_CSR_HASH","dcvStatus":"Awaiting Validation"}]}` + "\n"},
		{"update single", []string{"update", "--order", "7", "--domain", "a.com", "--method", "EMAIL", "--email", "admin@a.com"},
			map[string]string{"orderNumber": "7", "domainName": "a.com", "newMethod": "EMAIL", "newDCVEmailAddress": "admin@a.com"},
			"AutoUpdateDCV accepted for order 7.\n"},
		{"update plural", []string{"update", "--order", "7", "--domains", "a.com,b.com", "--methods", "EMAIL, HTTP_CSR_HASH", "--emails", "admin@a.com", "--template", "2"},
			map[string]string{"orderNumber": "7", "domainNames": "a.com b.com", "newMethods": "EMAIL,HTTP_CSR_HASH", "newDCVEmailAddresses": "admin@a.com", "dcvTemplateID": "2"},
			"AutoUpdateDCV accepted for order 7.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{tt.args[0]}, base...)
			args = append(args, tt.args[1:]...)
			r := run("", withPassword, args...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.stdout)
			}
			if strings.Contains(tt.name, "json") && !json.Valid([]byte(r.stdout)) {
				t.Errorf("--json output is not JSON: %s", r.stdout)
			}
			want := map[string]string{"loginName": "login_name", "loginPassword": password}
			for k, v := range tt.params {
				want[k] = v
			}
			if got := srv.last(); !reflect.DeepEqual(got, want) {
				t.Errorf("parameters %v, want %v", got, want)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	srv := newServer(t, false, map[string]string{
		"/products/!ResendDCVEmail":         "errorCode=-4&errorMessage=The+value+of+the+%27orderNumber%27+argument+is+invalid%21&errorItem=orderNumber",
		"/products/!GetDCVEmailAddressList": "-4\nThe value of the 'domainName' argument is invalid!\n",
		"/products/!AutoUpdateDCV":          "errorCode=-47&errorMessage=DCV+emails+cannot+be+resent%21&errorDetail=next+resend+at+10:00Z",
	})
	base := []string{"--url", srv.URL, "--login", "login_name"}

	r := run("", withPassword, append([]string{"resend"}, append(base, "--order", "9")...)...)
	if r.code != ExitAPIError || r.stdout != "" || r.stderr != "errorCode -4: The value of the 'orderNumber' argument is invalid! (orderNumber)\n" {
		t.Errorf("resend: %+v", r)
	}
	r = run("", withPassword, append([]string{"resend"}, append(base, "--order", "9", "--json")...)...)
	if r.code != ExitAPIError || r.stdout != `{"errorCode":-4,"errorMessage":"The value of the 'orderNumber' argument is invalid!","errorItem":"orderNumber"}`+"\n" {
		t.Errorf("resend --json: %+v", r)
	}
	// The text format has no errorItem; it is read from the message.
	r = run("", withPassword, append([]string{"addresses"}, append(base, "--domain", "bad..name")...)...)
	if r.code != ExitAPIError || r.stderr != "errorCode -4: The value of the 'domainName' argument is invalid! (domainName)\n" {
		t.Errorf("addresses: %+v", r)
	}
	r = run("", withPassword, append([]string{"update"}, append(base, "--order", "9")...)...)
	if r.code != ExitAPIError || r.stderr != "errorCode -47: DCV emails cannot be resent!: next resend at 10:00Z\n" {
		t.Errorf("update: %+v", r)
	}
	r = run("", map[string]string{PasswordEnv: "wrong"}, append([]string{"status"}, append(base, "--order", "9")...)...)
	if r.code != ExitAPIError || !strings.HasPrefix(r.stderr, "errorCode -16: ") {
		t.Errorf("bad login: %+v", r)
	}
}

func TestUsage(t *testing.T) {
	srv := newServer(t, false, answers)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string // a part of it
	}{
		{"nothing", withPassword, nil, ExitUsage, "usage: dcvmail client SUBCOMMAND"},
		{"unknown", withPassword, []string{"reissue"}, ExitUsage, `unknown subcommand "reissue"`},
		{"no url", withPassword, []string{"resend", "--login", "login_name", "--order", "1"}, ExitUsage, "--url is required"},
		{"no login", withPassword, []string{"resend", "--url", srv.URL, "--order", "1"}, ExitUsage, "--login is required"},
		{"no password", nil, []string{"resend", "--url", srv.URL, "--login", "login_name"}, ExitUsage, "no password: set $DCVMAIL_CLIENT_PASSWORD"},
		{"bad flag", withPassword, []string{"resend", "--url", srv.URL, "--login", "x", "--domain", "a.com"}, ExitUsage, "unknown flag --domain"},
		{"bad number", withPassword, []string{"resend", "--url", srv.URL, "--login", "x", "--order", "abc"}, ExitUsage, "invalid value"},
		{"extra argument", withPassword, []string{"status", "--url", srv.URL, "--login", "x", "5"}, ExitUsage, `unexpected argument "5"`},
		{"bad format", withPassword, []string{"status", "--url", srv.URL, "--login", "x", "--response-format", "xml"}, ExitUsage, "--response-format"},
		{"plain http", withPassword, []string{"status", "--url", "http://dcv.example.net", "--login", "x"}, ExitUsage, "plain http://"},
		{"bad url", withPassword, []string{"status", "--url", "dcv.example.net", "--login", "x"}, ExitUsage, `--url "dcv.example.net": want the API's base URL with its scheme, e.g. https://dcv.example.net`},
		{"url without scheme", withPassword, []string{"status", "--url", "127.0.0.1:18443", "--login", "x"}, ExitUsage, "e.g. https://127.0.0.1:18443"},
		{"missing ca", withPassword, []string{"status", "--url", srv.URL, "--login", "x", "--ca", filepath.Join(t.TempDir(), "none.pem")}, ExitUsage, "--ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.count()
			r := run("", tt.env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if srv.count() != before {
				t.Errorf("a usage error sent a request")
			}
		})
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"resend", "-h"}} {
		if r := run("", nil, args...); r.code != ExitOK || !strings.Contains(r.stdout+r.stderr, "usage: dcvmail client") {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

func TestPasswordStdin(t *testing.T) {
	srv := newServer(t, false, answers)
	args := []string{"resend", "--url", srv.URL, "--login", "login_name", "--order", "1", "--password-stdin"}
	// stdin wins over the environment; the line end is not part of it.
	r := run(password+"\r\nnext line\n", map[string]string{PasswordEnv: "wrong"}, args...)
	if r.code != ExitOK {
		t.Errorf("%+v", r)
	}
	if got := srv.last()["loginPassword"]; got != password {
		t.Errorf("password sent %q", got)
	}
	if r := run(password, nil, args...); r.code != ExitOK {
		t.Errorf("without a line end: %+v", r)
	}
	if r := run("\n"+password, nil, args...); r.code != ExitUsage {
		t.Errorf("empty first line: %+v", r)
	}
}

func TestTransportAndTLS(t *testing.T) {
	srv := newServer(t, true, answers)
	base := []string{"status", "--url", srv.URL, "--login", "login_name", "--order", "5"}

	r := run("", withPassword, base...)
	if r.code != ExitTransport || !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, "--ca DATA/tls-cert.pem") {
		t.Errorf("self-signed, no --insecure: %+v", r)
	}
	if r := run("", withPassword, append(base, "--insecure")...); r.code != ExitOK {
		t.Errorf("--insecure: %+v", r)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("", withPassword, append(base, "--ca", ca)...); r.code != ExitOK {
		t.Errorf("--ca: %+v", r)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	r = run("", withPassword, "resend", "--url", closed, "--login", "login_name", "--order", "1")
	if r.code != ExitTransport || !strings.Contains(r.stderr, "connection refused") || strings.Contains(r.stderr, "may have reached") {
		t.Errorf("closed port: %+v", r)
	}

	// A resend whose answer never came may have taken effect: say so.
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer drop.Close()
	r = run("", withPassword, "resend", "--url", drop.URL, "--login", "login_name", "--order", "1")
	if r.code != ExitTransport || !strings.Contains(r.stderr, "may have reached the server") {
		t.Errorf("dropped resend: %+v", r)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, password) {
			t.Errorf("output holds the password: %s", out)
		}
	}
}

// Whatever happens, the password is not printed.
func TestPasswordNotPrinted(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadGateway)
		w.Write(body)
	}))
	defer echo.Close()
	echoAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Write(wire.EncodeForm([]wire.Pair{{Name: "errorCode", Value: "-16"}, {Name: "errorMessage", Value: "no " + r.PostForm.Get("loginPassword")}}))
	}))
	defer echoAPI.Close()
	for _, url := range []string{echo.URL, echoAPI.URL} {
		for _, extra := range [][]string{nil, {"--json"}} {
			args := append([]string{"status", "--url", url, "--login", "login_name", "--order", "1"}, extra...)
			r := run("", withPassword, args...)
			if r.code == ExitOK {
				t.Errorf("%v: succeeded", args)
			}
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Errorf("%v printed the password: %+v", args, r)
			}
		}
	}
}
