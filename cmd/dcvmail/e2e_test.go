package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/dcvmail/dcvmail/sps"
)

// binary builds dcvmail once per test run.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dcvmail")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run runs a dcvmail command and returns its stdout; it fails the test on a
// non-zero exit.
func run(t *testing.T, bin, data string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DCVMAIL_DATA="+data)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dcvmail %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// serveProcess starts `dcvmail serve` and waits until /healthz answers.
func serveProcess(t *testing.T, bin, data string, args ...string) (*serveProc, string) {
	t.Helper()
	proc, ready, _ := startServe(t, bin, data, args...)
	base, err := ready()
	if err != nil {
		t.Fatal(err)
	}
	return proc, base
}

// client trusts the certificate that serve generated in data.
func client(t *testing.T, base, data, login, password string) *sps.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(data, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	return &sps.Client{BaseURL: base, LoginName: login, LoginPassword: password, HTTPClient: hc}
}

type captured struct {
	To          string `json:"to"`
	Subject     string `json:"subject"`
	Text        string `json:"text"`
	OrderNumber int64  `json:"orderNumber"`
	DCVCode     string `json:"dcvCode"`
}

// waitFor polls cond for at most 60 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailList runs `mail list --json`, waiting (at most 10 s) for want messages.
func mailList(t *testing.T, bin, data string, want int) []captured {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var msgs []captured
		if err := json.Unmarshal([]byte(run(t, bin, data, "", "mail", "list", "--json")), &msgs); err != nil {
			t.Fatal(err)
		}
		if len(msgs) >= want || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The README's promise: `dcvmail serve --demo`, then the vendor's sample
// request answers errorCode=0 and `mail list --json` shows two identical
// messages with the same dcvCode. Driven through the real binary, its TLS
// listener and its SQLite file.
func TestServeDemoVendorSample(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	_, base := serveProcess(t, bin, data, "--demo")

	// The sample exactly as the vendor writes it: unescaped '!' in the path.
	pem, _ := os.ReadFile(filepath.Join(data, "tls-cert.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Post(base+"/products/!ResendDCVEmail", "application/x-www-form-urlencoded",
		strings.NewReader("loginName=login_name&loginPassword=login_password&orderNumber=1234567"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.String() != "errorCode=0" {
		t.Fatalf("HTTP %d %q, want exactly errorCode=0", resp.StatusCode, body.String())
	}
	msgs := mailList(t, bin, data, 2)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	if msgs[0].DCVCode == "" || msgs[0] != msgs[1] || msgs[0].To != "admin@example.com" || msgs[0].OrderNumber != 1234567 {
		t.Fatalf("messages not identical: %+v", msgs)
	}
	if !strings.Contains(msgs[0].Text, msgs[0].DCVCode) || !strings.Contains(msgs[0].Text, "/products/EnterDCVCode2?orderNumber=1234567&dcvCode=") {
		t.Fatalf("text lacks the code or the link:\n%s", msgs[0].Text)
	}

	// --demo is idempotent: a second start seeds nothing new.
	run(t, bin, data, "", "migrate")
	if got := mailList(t, bin, data, 2); len(got) != 2 {
		t.Fatalf("%d messages after migrate", len(got))
	}
}

// docs/cli.md: admin commands work while serve runs on the same data;
// `order add` prints the order number alone; the new order's DCV email goes
// out through the running server's worker; the client library drives the
// rest.
func TestAdminCommandsBesideServe(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	srv, base := serveProcess(t, bin, data)
	run(t, bin, data, "s3cret-pass\n", "account", "add", "--login", "carol", "--password-stdin")
	out := run(t, bin, data, "", "order", "add", "--account", "carol", "--domain", "example.org", "--domain", "www.example.org", "--dcv-email", "admin@example.org")
	order, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("order add printed %q, want digits on one line", out)
	}
	if msgs := mailList(t, bin, data, 1); len(msgs) != 1 || msgs[0].OrderNumber != order {
		t.Fatalf("first DCV email: %+v", msgs)
	}

	c := client(t, base, data, "carol", "s3cret-pass")
	ctx := context.Background()
	list, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "www.example.org"})
	if err != nil || len(list.Emails()) != 10 {
		t.Fatalf("address list: %+v %v", list, err)
	}
	if _, err := c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order, DCVEmailAddress: "webmaster@www.example.org"}); err != nil {
		t.Fatal(err)
	}
	if msgs := mailList(t, bin, data, 2); len(msgs) != 2 || msgs[1].To != "webmaster@www.example.org" || msgs[1].DCVCode == msgs[0].DCVCode {
		t.Fatalf("after choosing an address: %+v", msgs)
	}
	_, err = c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order + 1000})
	if !errors.Is(err, sps.ErrInvalidArgument) {
		t.Fatalf("unknown order: %v", err)
	}

	// A password changed by the operator is refused at once by the running server.
	run(t, bin, data, "new-pass-2\n", "account", "set", "--login", "carol", "--password-stdin")
	if _, err := c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order}); !errors.Is(err, sps.ErrAuthentication) {
		t.Fatalf("old password after change: %v", err)
	}

	show := run(t, bin, data, "", "order", "show", strconv.FormatInt(order, 10))
	for _, want := range []string{"www.example.org", "webmaster@www.example.org", "BR 3.2.2.4.4", "captured in the built-in mailbox"} {
		if !strings.Contains(show, want) {
			t.Errorf("order show lacks %q:\n%s", want, show)
		}
	}

	// SIGTERM: the server finishes and exits 0.
	srv.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of SIGTERM")
	}
}

// docs/cli.md: failures print one line on stderr and exit non-zero.
func TestCommandFailures(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	for _, args := range [][]string{
		{"order", "show", "42"},
		{"order", "add", "--account", "nobody", "--domain", "example.com"},
		{"bogus"},
		{"serve", "--listen", "not-an-address"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DCVMAIL_DATA="+data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Errorf("%v: exit 0", args)
			continue
		}
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 || stderr.Len() == 0 {
			t.Errorf("%v: stderr is not one line: %q", args, stderr.String())
		}
	}
}

// issue 3: order add accepts a DNS contact as --dcv-email when it can ask a
// resolver, and refuses it when it cannot.
func TestOrderAddWithDNSContact(t *testing.T) {
	dnsSrv := dnstest.Start(t, `_validation-contactemail.example.com. TXT "owner@contacts.example.net"`)
	dnsSrv.SetAD(true) // DNSSEC is required from 2026-03-15
	bin := binary(t)
	data := t.TempDir()
	run(t, bin, data, "pw-dns-test\n", "account", "add", "--login", "dana", "--password-stdin")
	cmd := exec.Command(bin, "order", "add", "--account", "dana", "--domain", "example.com", "--dcv-email", "owner@contacts.example.net")
	cmd.Env = append(os.Environ(), "DCVMAIL_DATA="+data)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not a permitted recipient") {
		t.Fatalf("without a resolver: %v %s", err, out)
	}
	out := run(t, bin, data, "", "order", "add", "--account", "dana", "--domain", "example.com", "--dcv-email", "owner@contacts.example.net", "--dns-resolver", dnsSrv.Addr())
	show := run(t, bin, data, "", "order", "show", strings.TrimSpace(out))
	if !strings.Contains(show, "owner@contacts.example.net") || !strings.Contains(show, "BR 3.2.2.4.14") {
		t.Fatalf("order show:\n%s", show)
	}
}
