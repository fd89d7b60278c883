package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
)

func testMessage(i int) mail.Message {
	r, err := mail.Default.Render(mail.SampleFields)
	if err != nil {
		panic(err)
	}
	return mail.Message{
		From:      "DCV <dcv@dcvmail.test>",
		To:        fmt.Sprintf("admin%d@example.com", i),
		MessageID: fmt.Sprintf("m%d@dcvmail.test", i),
		Date:      time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Rendered:  r,
	}
}

func newSMTP(t testing.TB, url string, mod func(*delivery.SMTPConfig)) *delivery.SMTP {
	t.Helper()
	cfg := delivery.SMTPConfig{URL: url, Timeout: 5 * time.Second, HELO: "client.test"}
	if mod != nil {
		mod(&cfg)
	}
	s, err := delivery.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(s *delivery.SMTP, i int) (string, error) {
	return s.Send(context.Background(), model.Delivery{ID: int64(i)}, testMessage(i))
}

func isPermanent(err error) bool {
	var p *delivery.PermanentError
	return errors.As(err, &p)
}

// The message that reaches the server is well-formed MIME: the headers a
// receiver expects of automated mail, text with an HTML alternative, both
// decodable, and the code in the text.
func TestSMTPDeliversWellFormedMIME(t *testing.T) {
	sk := startSink(t, sinkOptions{})
	s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
	reply, err := send(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reply, "250 2.0.0 OK: queued") {
		t.Errorf("reply %q: want the server's own 250 reply", reply)
	}
	msgs := sk.messages()
	if len(msgs) != 1 || msgs[0].From != "dcv@dcvmail.test" || msgs[0].To != "admin1@example.com" {
		t.Fatalf("envelope: %+v", msgs)
	}
	checkMIME(t, msgs[0].Data, testMessage(1))
}

// checkMIME parses raw with the standard library as a receiving client would.
func checkMIME(t *testing.T, raw []byte, want mail.Message) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("a line ends in a bare LF")
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	for name, v := range map[string]string{
		"Message-Id":     "<" + want.MessageID + ">",
		"Auto-Submitted": "auto-generated",
		"Mime-Version":   "1.0",
	} {
		if got := h.Get(name); got != v {
			t.Errorf("%s: %q, want %q", name, got, v)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(want.Date) {
		t.Errorf("Date: %v %v, want %v", d, err, want.Date)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "dcv@dcvmail.test" {
		t.Errorf("From: %v %v", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != want.To {
		t.Errorf("To: %v %v", to, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != want.Subject {
		t.Errorf("Subject: %q %v, want %q", subject, err, want.Subject)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		if !strings.EqualFold(cp["charset"], "utf-8") {
			t.Errorf("%s: charset %q", ct, cp["charset"])
		}
		if p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("%s: encoding %q", ct, p.Header.Get("Content-Transfer-Encoding"))
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		var wantBody string
		switch ct {
		case "text/plain":
			wantBody = want.Text
		case "text/html":
			wantBody = want.HTML
		}
		if strings.ReplaceAll(string(body), "\r\n", "\n") != wantBody {
			t.Errorf("%s body differs:\n%s\nwant\n%s", ct, body, wantBody)
		}
		if !strings.Contains(string(body), mail.SampleFields.Code) {
			t.Errorf("%s: no code", ct)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v: want text/plain then text/html", types)
	}
}

// One connection carries many messages one after another.
func TestSMTPReusesConnection(t *testing.T) {
	sk := startSink(t, sinkOptions{})
	s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
	for i := range 20 {
		if _, err := send(s, i); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sk.messages()); n != 20 {
		t.Fatalf("%d messages", n)
	}
	if n := sk.sessionCount(); n != 1 {
		t.Errorf("%d sessions for 20 sequential messages, want 1", n)
	}
}

// Parallel sends use at most Connections connections.
func TestSMTPBoundsParallelConnections(t *testing.T) {
	sk := startSink(t, sinkOptions{})
	sk.setHook(func(stage string, _ *gosmtp.Conn) error {
		if stage == "DATA" {
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	})
	s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", func(c *delivery.SMTPConfig) { c.Connections = 3 })
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if _, err := send(s, i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(sk.messages()); n != 60 {
		t.Fatalf("%d messages", n)
	}
	if m := sk.maxActive.Load(); m > 3 || m < 2 {
		t.Errorf("%d connections at once, want 2..3", m)
	}
	if n := sk.sessionCount(); n > 3 {
		t.Errorf("%d sessions, want at most 3 (reused)", n)
	}
}

// 4xx is temporary, 5xx permanent; the reply is the evidence; the session
// goes on after a refusal.
func TestSMTPRepliesClassified(t *testing.T) {
	for _, tc := range []struct {
		stage     string
		err       error
		permanent bool
		want      string
	}{
		{"MAIL", smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Try again later"), false, "MAIL FROM: 451 4.3.0 Try again later"},
		{"RCPT", smtpErr(450, gosmtp.EnhancedCode{4, 2, 1}, "Mailbox busy"), false, "RCPT TO: 450 4.2.1 Mailbox busy"},
		{"RCPT", smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "No such user"), true, "RCPT TO: 550 5.1.1 No such user"},
		{"DATA", smtpErr(554, gosmtp.EnhancedCode{5, 7, 1}, "Rejected as spam"), true, "end of DATA: 554 5.7.1 Rejected as spam"},
		{"DATA", smtpErr(452, gosmtp.EnhancedCode{4, 3, 1}, "Insufficient storage"), false, "end of DATA: 452 4.3.1 Insufficient storage"},
		{"MAIL", smtpErr(530, gosmtp.EnhancedCode{5, 7, 0}, "Authentication required"), false, "MAIL FROM: 530 5.7.0 Authentication required"},
		{"MAIL", smtpErr(553, gosmtp.EnhancedCode{5, 7, 1}, "Sender address rejected"), false, "MAIL FROM: 553 5.7.1 Sender address rejected"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			sk := startSink(t, sinkOptions{})
			s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
			sk.setHook(func(stage string, _ *gosmtp.Conn) error {
				if stage == tc.stage {
					return tc.err
				}
				return nil
			})
			_, err := send(s, 1)
			if err == nil || err.Error() != tc.want || isPermanent(err) != tc.permanent {
				t.Fatalf("error %v (permanent %v), want %q (permanent %v)", err, isPermanent(err), tc.want, tc.permanent)
			}
			sk.setHook(nil)
			if _, err := send(s, 2); err != nil {
				t.Fatal(err)
			}
			if n := sk.sessionCount(); n != 1 {
				t.Errorf("%d sessions: the session should survive a refusal", n)
			}
		})
	}
}

// A dropped connection, a refused connection and a stalled server are
// temporary failures, and a stall ends at the timeout.
func TestSMTPNetworkFailuresAreTemporary(t *testing.T) {
	t.Run("dropped in DATA", func(t *testing.T) {
		sk := startSink(t, sinkOptions{})
		s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
		sk.setHook(func(stage string, c *gosmtp.Conn) error {
			if stage == "DATA" {
				return drop(c)
			}
			return nil
		})
		_, err := send(s, 1)
		if err == nil || isPermanent(err) || !strings.HasPrefix(err.Error(), "end of DATA: ") {
			t.Fatalf("error %v, want a temporary one at the end of DATA", err)
		}
		sk.setHook(nil)
		if _, err := send(s, 2); err != nil {
			t.Fatalf("after a drop: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		s := newSMTP(t, "smtp://"+addr+"?tls=none", nil)
		_, err := send(s, 1)
		if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("error %v, want a temporary connection refusal", err)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		sk := startSink(t, sinkOptions{})
		sk.setHook(func(stage string, _ *gosmtp.Conn) error {
			if stage == "DATA" {
				return sk.stall()
			}
			return nil
		})
		s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", func(c *delivery.SMTPConfig) { c.Timeout = 300 * time.Millisecond })
		start := time.Now()
		_, err := send(s, 1)
		if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("error %v, want a temporary timeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("a stall held the sender %v", d)
		}
	})
	t.Run("stalled greeting, context ends first", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // never greets
			}
		}()
		s := newSMTP(t, "smtp://"+ln.Addr().String()+"?tls=none", func(c *delivery.SMTPConfig) { c.Timeout = time.Minute })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = s.Send(ctx, model.Delivery{}, testMessage(1))
		if err == nil || isPermanent(err) || time.Since(start) > 3*time.Second {
			t.Fatalf("error %v after %v, want a temporary failure at the context's end", err, time.Since(start))
		}
	})
}

// A connection the server closed while idle is replaced without a failure.
func TestSMTPReplacesStaleConnection(t *testing.T) {
	sk := startSink(t, sinkOptions{readTO: 200 * time.Millisecond})
	s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", nil)
	if _, err := send(s, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := send(s, 2); err != nil {
		t.Fatalf("after the server dropped the idle connection: %v", err)
	}
	if n := sk.sessionCount(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

// STARTTLS is required by default and the certificate verified: against the
// system roots (failure), or a CA the operator names.
func TestSMTPTLS(t *testing.T) {
	serverTLS, caFile := testCA(t)
	t.Run("required but not offered", func(t *testing.T) {
		sk := startSink(t, sinkOptions{})
		s := newSMTP(t, "smtp://"+sk.Addr, nil)
		_, err := send(s, 1)
		if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("error %v, want a temporary STARTTLS failure", err)
		}
		if len(sk.messages()) != 0 {
			t.Fatal("a message went out without TLS")
		}
	})
	t.Run("opportunistic, not offered", func(t *testing.T) {
		sk := startSink(t, sinkOptions{})
		s := newSMTP(t, "smtp://"+sk.Addr+"?tls=opportunistic", nil)
		if _, err := send(s, 1); err != nil {
			t.Fatal(err)
		}
		if m := sk.messages(); len(m) != 1 || m[0].TLS {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("unknown CA is never skipped", func(t *testing.T) {
		sk := startSink(t, sinkOptions{tls: serverTLS})
		for _, url := range []string{"smtp://" + sk.Addr, "smtp://" + sk.Addr + "?tls=opportunistic"} {
			s := newSMTP(t, url, nil)
			_, err := send(s, 1)
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("%s: error %v, want a certificate failure", url, err)
			}
		}
		if len(sk.messages()) != 0 {
			t.Fatal("a message went out over an unverified connection")
		}
	})
	for _, tc := range []struct{ name, url, flag string }{
		{"STARTTLS with ?ca=", "?ca=" + caFile, ""},
		{"STARTTLS with --smtp-ca", "", caFile},
		{"opportunistic, offered", "?tls=opportunistic&ca=" + caFile, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := startSink(t, sinkOptions{tls: serverTLS})
			s := newSMTP(t, "smtp://localhost:"+port(sk.Addr)+tc.url, func(c *delivery.SMTPConfig) { c.CAFile = tc.flag })
			if _, err := send(s, 1); err != nil {
				t.Fatal(err)
			}
			if m := sk.messages(); len(m) != 1 || !m[0].TLS {
				t.Fatalf("%+v: want one message over TLS", m)
			}
		})
	}
	t.Run("implicit TLS", func(t *testing.T) {
		sk := startSink(t, sinkOptions{tls: serverTLS, implicit: true})
		s := newSMTP(t, "smtps://"+sk.Addr+"?ca="+caFile, nil)
		if _, err := send(s, 1); err != nil {
			t.Fatal(err)
		}
		if m := sk.messages(); len(m) != 1 || !m[0].TLS {
			t.Fatalf("%+v: want one message over TLS", m)
		}
	})
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// AUTH is used when the URL carries credentials; a refused login is the
// operator's to mend, so it is temporary.
func TestSMTPAuth(t *testing.T) {
	serverTLS, caFile := testCA(t)
	sk := startSink(t, sinkOptions{tls: serverTLS, users: map[string]string{"dcv": "s3cret/+"}})
	s := newSMTP(t, "smtp://dcv:s3cret%2F+@localhost:"+port(sk.Addr)+"?ca="+caFile, nil)
	if _, err := send(s, 1); err != nil {
		t.Fatal(err)
	}
	if m := sk.messages(); len(m) != 1 || m[0].User != "dcv" {
		t.Fatalf("%+v", m)
	}
	bad := newSMTP(t, "smtp://dcv:wrong@localhost:"+port(sk.Addr)+"?ca="+caFile, nil)
	_, err := send(bad, 2)
	if err == nil || isPermanent(err) || !strings.Contains(err.Error(), "535") {
		t.Fatalf("error %v, want a temporary 535", err)
	}
	none := newSMTP(t, "smtp://localhost:"+port(sk.Addr)+"?ca="+caFile, nil)
	_, err = send(none, 3)
	if err == nil || isPermanent(err) {
		t.Fatalf("error %v, want a temporary refusal without AUTH", err)
	}
}

func TestSMTPConfigRefused(t *testing.T) {
	for _, url := range []string{
		"http://mail.example:25",
		"smtp://",
		"smtp://mail.example:0",
		"smtp://mail.example/path",
		"smtp://mail.example?tls=maybe",
		"smtps://mail.example?tls=none",
		"smtp://mail.example?insecure=1",
		"smtp://mail.example?tls=none&tls=none",
		"smtp://user:pass@mail.example?tls=none", // a password in the clear
	} {
		if _, err := delivery.NewSMTP(delivery.SMTPConfig{URL: url}); err == nil {
			t.Errorf("%s accepted", url)
		} else if strings.Contains(err.Error(), "pass@") {
			t.Errorf("%s: the error shows the password: %v", url, err)
		}
	}
	for url, want := range map[string]string{
		"smtp://mail.example":                          "smtp://mail.example (TLS required)",
		"smtp://u:p@mail.example:25?tls=opportunistic": "smtp://u:xxxxx@mail.example:25?tls=opportunistic (TLS opportunistic)",
		"smtps://mail.example":                         "smtps://mail.example (TLS implicit)",
		"smtp://u:p@127.0.0.1:1025?tls=none":           "smtp://u:xxxxx@127.0.0.1:1025?tls=none (TLS none)",
	} {
		s, err := delivery.NewSMTP(delivery.SMTPConfig{URL: url})
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if s.String() != want {
			t.Errorf("%s: %q, want %q", url, s.String(), want)
		}
		s.Close()
	}
}
