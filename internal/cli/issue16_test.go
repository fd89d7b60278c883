package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/store"
)

// startServerInProcess runs a server on dir (as `dcvmail serve` would, with the
// admin commands beside it) until the test ends; smtp "" is the built-in
// mailbox.
func startServerInProcess(t *testing.T, dir, smtp string) *server.Server {
	t.Helper()
	cfg := config.Serve{
		Common: config.Common{Data: dir}, Listen: "127.0.0.1:0", MailFrom: "dcv@dcvmail.test",
		DNSResolvers: config.List{"none"}, CodeValidity: dcv.DefaultPolicy.CodeValidity,
		ResendBurst: 5, ResendInterval: time.Minute, SMTP: smtp,
		// One attempt now, the next only after the test is over.
		Mail: config.Mail{SMTPConnections: 1, SMTPTimeout: 2 * time.Second, MaxAge: 48 * time.Hour,
			RetryBase: time.Hour, RetryMax: time.Hour, Lease: 2 * time.Minute},
	}
	srv, err := server.New(context.Background(), cfg, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return srv
}

// waitFor polls the store (at most 20 s) until query counts at least n.
func waitFor(t *testing.T, st *store.Store, query string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got int
		if err := st.QueryRow(context.Background(), query, &got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", query, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postForm posts a form over TLS as a client would, written by hand so
// that the User-Agent may carry bytes that Go's client refuses to send.
func postForm(t *testing.T, u string, form url.Values, userAgent string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", pu.Host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := form.Encode()
	req := "POST " + pu.RequestURI() + " HTTP/1.1\r\nHost: " + pu.Host + "\r\nConnection: close\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if userAgent != "" {
		req += "User-Agent: " + userAgent + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// issue 16 item 8, through the API and the command line: with a relay that
// refuses connections, GetMDCDomainDetails showStatusDetails=Y shows the
// reseller "relay unreachable", never the local error (dial tcp, the
// relay's address and port); `order show` shows the operator the detail.
func TestResellerSeesNeutralReplyOperatorSeesDetail(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relay := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	_, port, _ := net.SplitHostPort(relay)

	dir, env := dataDir(t)
	st := openStore(t, dir)
	if r := runCLI(t, "a long password\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	srv := startServerInProcess(t, dir, "smtp://"+relay+"?tls=none")
	r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", "example.com", "--dcv-email", "admin@example.com")
	order := strings.TrimSpace(r.stdout)
	if r.code != 0 {
		t.Fatal(r)
	}
	waitFor(t, st, `SELECT COUNT(*) FROM delivery_attempts`, 1)
	login := url.Values{"loginName": {"ann"}, "loginPassword": {"a long password"}, "orderNumber": {order}}
	if body := postForm(t, srv.URL()+"/products/!ResendDCVEmail", login, ""); !strings.HasPrefix(body, "errorCode=0") {
		t.Fatalf("resend: %s", body)
	}
	waitFor(t, st, `SELECT COUNT(*) FROM delivery_attempts`, 2)

	login.Set("showStatusDetails", "Y")
	details := postForm(t, srv.URL()+"/products/!GetMDCDomainDetails", login, "")
	if !strings.Contains(details, "lastDeliveryReply="+url.QueryEscape(dcv.RelayUnreachable)) {
		t.Errorf("the reseller is not shown %q: %s", dcv.RelayUnreachable, details)
	}
	for _, leak := range []string{"dial", "tcp", "refused", port} {
		if strings.Contains(details, leak) {
			t.Errorf("the reseller sees %q: %s", leak, details)
		}
	}
	show := runCLI(t, "", env, "order", "show", order)
	if show.code != 0 || !strings.Contains(show.stdout, "dial tcp "+relay) || !strings.Contains(show.stdout, "connection refused") {
		t.Errorf("order show does not give the operator the detail: %+v", show)
	}
}

// issue 16 item 9, through the command line: a confirmation whose
// User-Agent carries U+009B (CSI, the one-character form of the ESC [
// that starts a terminal's control sequences) and U+202E (right-to-left
// override) reaches `order show`, text and JSON, as escapes, never as the
// raw characters; the JSON still decodes to the string the browser sent.
// A raw ESC is refused by the HTTP server before it is stored. The same for
// `mail list` with a template whose subject carries the characters.
func TestOrderShowEscapesClientText(t *testing.T) {
	t.Parallel()
	dir, env := dataDir(t)
	st := openStore(t, dir)
	if r := runCLI(t, "a long password\n", env, "account", "add", "--login", "ann", "--password-stdin"); r.code != 0 {
		t.Fatal(r)
	}
	srv := startServerInProcess(t, dir, "")
	r := runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", "example.com", "--dcv-email", "admin@example.com")
	order, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	if err != nil {
		t.Fatal(r)
	}
	waitFor(t, st, `SELECT COUNT(*) FROM mailbox`, 1)
	msgs, err := st.Mailbox(context.Background(), order)
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	// A raw ESC (a C0 control) never gets that far: the HTTP server
	// refuses the request. U+009B is the same escape in one character.
	form := url.Values{"orderNumber": {strconv.FormatInt(order, 10)}, "dcvCode": {msgs[0].DCVCode}}
	if page := postForm(t, srv.URL()+"/products/EnterDCVCode2", form, "Mozilla/5.0 \x1b[2J"); !strings.HasPrefix(page, "400 Bad Request") {
		t.Fatalf("a raw ESC in the User-Agent: %s", page)
	}
	const agent = "Mozilla/5.0 \u009b31m red \u202egnp.exe \u009b2J cleared"
	page := postForm(t, srv.URL()+"/products/EnterDCVCode2", url.Values{"orderNumber": {strconv.FormatInt(order, 10)}, "dcvCode": {msgs[0].DCVCode}}, agent)
	confirmed, err := st.ConfirmationsOfOrder(context.Background(), order)
	if err != nil || len(confirmed) != 1 || confirmed[0].UserAgent != agent {
		t.Fatalf("confirmation: %+v %v\n%s", confirmed, err, page)
	}

	raw := []string{"\u009b", "\u202e"}
	escaped := []string{`\u009B`, `\u202E`}
	number := strconv.FormatInt(order, 10)
	text := runCLI(t, "", env, "order", "show", number)
	if text.code != 0 {
		t.Fatal(text)
	}
	assertEscaped(t, "order show", text.stdout, raw, escaped)
	js := runCLI(t, "", env, "order", "show", "--json", number)
	if js.code != 0 {
		t.Fatal(js)
	}
	assertEscaped(t, "order show --json", js.stdout, raw, escaped)
	var v dcv.OrderView
	if err := json.Unmarshal([]byte(js.stdout), &v); err != nil || len(v.Confirmed) != 1 || v.Confirmed[0].UserAgent != agent {
		t.Errorf("the JSON does not decode to the user agent sent: %+v %v", v.Confirmed, err)
	}

	// mail list: an operator's template whose subject carries the characters.
	tmpl := dir + "/t.tmpl"
	if err := os.WriteFile(tmpl, []byte("Subject: order {{.OrderNumber}} \u202eevil \u009b1m\n\n{{.Link}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", env, "template", "add", "--id", "7", "--file", tmpl); r.code != 0 {
		t.Fatal(r)
	}
	r = runCLI(t, "", env, "order", "add", "--account", "ann", "--domain", "example.org", "--dcv-email", "admin@example.org")
	if r.code != 0 {
		t.Fatal(r)
	}
	login := url.Values{"loginName": {"ann"}, "loginPassword": {"a long password"}, "orderNumber": {strings.TrimSpace(r.stdout)}, "dcvTemplateID": {"7"}}
	if body := postForm(t, srv.URL()+"/products/!ResendDCVEmail", login, ""); !strings.HasPrefix(body, "errorCode=0") {
		t.Fatalf("resend with the template: %s", body)
	}
	waitFor(t, st, `SELECT COUNT(*) FROM mailbox`, 3)
	for _, args := range [][]string{{"mail", "list"}, {"mail", "list", "--json"}} {
		list := runCLI(t, "", env, args...)
		if list.code != 0 {
			t.Fatal(list)
		}
		assertEscaped(t, strings.Join(args, " "), list.stdout, raw, escaped)
	}
}

func assertEscaped(t *testing.T, what, out string, raw, escaped []string) {
	t.Helper()
	for _, c := range raw {
		if strings.Contains(out, c) {
			t.Errorf("%s prints %q raw:\n%s", what, c, out)
		}
	}
	for _, e := range escaped {
		if !strings.Contains(out, e) {
			t.Errorf("%s lacks %s:\n%s", what, e, out)
		}
	}
}
