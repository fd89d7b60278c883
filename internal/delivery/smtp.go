package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/wneessen/go-mail/smtp"
)

// SMTP defaults.
const (
	// DefaultSMTPConnections bounds the connections open to the server at
	// once (and so the messages in flight).
	DefaultSMTPConnections = 4
	// DefaultSMTPTimeout bounds each step of a conversation: connecting and
	// greeting, one command and its reply, the message data. A server that
	// stalls longer loses the connection and the message is retried later.
	DefaultSMTPTimeout = 30 * time.Second
	// smtpIdleMax is how long an unused connection is kept; most servers
	// drop idle clients after a minute or more (RFC 5321 4.5.3.2.7 asks
	// them to wait 5 minutes).
	smtpIdleMax = 30 * time.Second
	// smtpMaxPerConn is how many messages one connection carries before it
	// is replaced; some servers limit messages per session.
	smtpMaxPerConn = 500
)

// TLS modes of an smtp:// URL.
const (
	tlsRequired      = "required"      // STARTTLS, with a verified certificate, or no mail
	tlsOpportunistic = "opportunistic" // STARTTLS when the server offers it (verified), plain otherwise
	tlsNone          = "none"          // never STARTTLS
	tlsImplicit      = "implicit"      // smtps://: TLS from the first byte
)

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port][?tls=required|opportunistic|none][&ca=FILE]
	// (port 587, STARTTLS required by default) or smtps://[user:pass@]host[:port][?ca=FILE]
	// (port 465, implicit TLS).
	URL string
	// CAFile is a PEM file of certificates trusted for the server, besides
	// the system's; the URL's ca= does the same.
	CAFile string
	// Connections bounds the connections open at once (DefaultSMTPConnections).
	Connections int
	// Timeout bounds each step of a conversation (DefaultSMTPTimeout).
	Timeout time.Duration
	// HELO is the name the client greets with (default: the host name).
	HELO string
	// DKIM, when set, signs every message.
	DKIM *mail.DKIM
	Log  *slog.Logger
}

// SMTP delivers messages to one SMTP submission server. It keeps up to
// Connections connections open and reuses them, so that a burst of messages
// does not pay a TCP and TLS handshake each. It is safe for concurrent use.
//
// What it reports back to the outbox: the server's final reply to the
// message data ("250 2.0.0 Ok: queued as 4Xyz") on success; a
// *PermanentError when the server refused the message with a 5xx reply to
// MAIL, RCPT or DATA; any other error (4xx replies, refused or dropped
// connections, timeouts, TLS or AUTH trouble, which are the operator's to
// mend and never the message's fault) is temporary and retried.
type SMTP struct {
	addr      string // host:port
	host      string
	mode      string
	user      string
	pass      string
	tlsConfig *tls.Config
	timeout   time.Duration
	helo      string
	dkim      *mail.DKIM
	log       *slog.Logger
	redacted  string

	slots chan struct{} // one token per connection in use

	mu     sync.Mutex
	idle   []*smtpConn // most recently used last
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// smtpConn is one open, greeted (and, as configured, encrypted and
// authenticated) connection.
type smtpConn struct {
	raw      net.Conn // the TCP connection: deadlines and aborts go here
	c        *smtp.Client
	lastUsed time.Time
	sent     int
}

// NewSMTP checks the configuration and returns a sender. It does not
// connect: the first message does.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--smtp: %w", err)
	}
	s := &SMTP{
		timeout:  cfg.Timeout,
		helo:     cfg.HELO,
		dkim:     cfg.DKIM,
		log:      cfg.Log,
		redacted: u.Redacted(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	n := cfg.Connections
	if n <= 0 {
		n = DefaultSMTPConnections
	}
	s.slots = make(chan struct{}, n)
	port := ""
	switch u.Scheme {
	case "smtp":
		s.mode, port = tlsRequired, "587"
	case "smtps":
		s.mode, port = tlsImplicit, "465"
	default:
		return nil, fmt.Errorf("--smtp %s: want smtp://host[:port] or smtps://host[:port]", s.redacted)
	}
	if u.Path != "" && u.Path != "/" || u.Opaque != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--smtp %s: a URL without a path is expected", s.redacted)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("--smtp %s: no host", s.redacted)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--smtp %s: bad port", s.redacted)
		}
		port = p
	}
	s.addr = net.JoinHostPort(s.host, port)
	caFile := cfg.CAFile
	for k, v := range u.Query() {
		switch {
		case len(v) != 1:
			return nil, fmt.Errorf("--smtp %s: %s given %d times", s.redacted, k, len(v))
		case k == "tls" && u.Scheme == "smtp" && (v[0] == tlsRequired || v[0] == tlsOpportunistic || v[0] == tlsNone):
			s.mode = v[0]
		case k == "tls":
			return nil, fmt.Errorf("--smtp %s: tls=%q: want required, opportunistic or none (smtp:// only)", s.redacted, v[0])
		case k == "ca" && caFile == "":
			caFile = v[0]
		case k == "ca":
			return nil, fmt.Errorf("--smtp %s: ca= and --smtp-ca both given", s.redacted)
		default:
			return nil, fmt.Errorf("--smtp %s: unknown parameter %q (known: tls, ca)", s.redacted, k)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.mode == tlsNone && !isLoopback(s.host) {
			// The password would cross the network in the clear.
			return nil, fmt.Errorf("--smtp %s: credentials without TLS are refused except to a loopback host", s.redacted)
		}
	}
	s.tlsConfig = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--smtp CA %s: no PEM certificate in it", caFile)
		}
		s.tlsConfig.RootCAs = pool
	}
	if s.helo == "" {
		if s.helo, err = os.Hostname(); err != nil || s.helo == "" {
			s.helo = "localhost"
		}
	}
	go s.janitor()
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the server without the password.
func (s *SMTP) String() string { return s.redacted + " (TLS " + s.mode + ")" }

// Send delivers one message; see the SMTP type for what it returns.
func (s *SMTP) Send(ctx context.Context, d model.Delivery, m mail.Message) (string, error) {
	raw, err := m.Bytes()
	if err != nil {
		return "", &PermanentError{Err: err}
	}
	if s.dkim != nil {
		if raw, err = s.dkim.Sign(raw); err != nil {
			return "", err
		}
	}
	from, err := envelopeAddress(m.From)
	if err != nil {
		return "", &PermanentError{Err: fmt.Errorf("from: %w", err)}
	}
	to, err := envelopeAddress(m.To)
	if err != nil {
		return "", &PermanentError{Err: fmt.Errorf("to: %w", err)}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("smtp: waiting for a connection: %w", ctx.Err())
	}
	defer func() { <-s.slots }()

	conn, reused, err := s.take(ctx)
	if err != nil {
		return "", err
	}
	reply, keep, err := s.transaction(ctx, conn, from, to, raw)
	if err != nil && reused && staleConnection(err) {
		// An idle connection the server had dropped (or was about to): the
		// message did not get past MAIL FROM, so a fresh connection may
		// carry it without any risk of a duplicate.
		conn.close()
		if conn, err = s.dial(ctx); err != nil {
			return "", err
		}
		reply, keep, err = s.transaction(ctx, conn, from, to, raw)
	}
	if keep {
		s.put(conn)
	} else {
		conn.close()
	}
	return reply, err
}

// envelopeAddress is the <addr> of an SMTP command.
func envelopeAddress(s string) (string, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return "<" + a.Address + ">", nil
}

// smtpStageError is a failed step of a mail transaction.
type smtpStageError struct {
	stage string // MAIL FROM, RCPT TO, DATA, end of DATA
	err   error
}

func (e *smtpStageError) Error() string { return e.stage + ": " + replyText(e.err) }

// replyText is an SMTP reply as the server sent it ("550 5.1.1 No such
// user"), or the error.
func replyText(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return oneLineReply(fmt.Sprintf("%03d %s", te.Code, te.Msg))
	}
	return oneLineReply(err.Error())
}
func (e *smtpStageError) Unwrap() error { return e.err }

// oneLineReply joins a multi-line reply so that the evidence stays on one line.
func oneLineReply(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ") }

// staleConnection tells an error that a dropped idle connection causes at
// MAIL FROM, the first command of a reused connection.
func staleConnection(err error) bool {
	var se *smtpStageError
	if !errors.As(err, &se) || se.stage != "MAIL FROM" {
		return false
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code == 421
	}
	return true
}

// transaction sends one message on conn. keep tells whether conn is fit for
// another message.
func (s *SMTP) transaction(ctx context.Context, conn *smtpConn, from, to string, raw []byte) (reply string, keep bool, err error) {
	// A cancelled context aborts whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { conn.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	step := func(stage string, f func() error) error {
		if err := conn.raw.SetDeadline(time.Now().Add(s.timeout)); err != nil {
			return &smtpStageError{stage, err}
		}
		if err := f(); err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
			}
			return &smtpStageError{stage, err}
		}
		return nil
	}
	// After a refused MAIL or RCPT the session is still good once RSET is
	// answered; after anything else that failed it is not to be trusted.
	rset := func() bool {
		return conn.raw.SetDeadline(time.Now().Add(s.timeout)) == nil && conn.c.Reset() == nil
	}
	if err := step("MAIL FROM", func() error { return conn.c.Mail(from) }); err != nil {
		return "", isReply(err) && rset(), classify(err)
	}
	if err := step("RCPT TO", func() error { return conn.c.Rcpt(to) }); err != nil {
		return "", isReply(err) && rset(), classify(err)
	}
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if err := step("DATA", func() error {
		var err error
		w, err = conn.c.Data()
		return err
	}); err != nil {
		return "", isReply(err) && rset(), classify(err)
	}
	if err := step("message data", func() error { _, err := w.Write(raw); return err }); err != nil {
		return "", false, classify(err)
	}
	if err := step("end of DATA", w.Close); err != nil {
		// The transaction is over either way; after a reply the session
		// may go on.
		return "", isReply(err) && !closing(err), classify(err)
	}
	conn.sent++
	conn.lastUsed = time.Now()
	reply = "250"
	if dc, ok := w.(*smtp.DataCloser); ok && dc.ServerResponse() != "" {
		reply += " " + oneLineReply(dc.ServerResponse())
	}
	return reply, conn.sent < smtpMaxPerConn, nil
}

// isReply tells an error that carries an SMTP reply (the session is still
// in step) from a network or protocol failure.
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 400 && te.Code < 600
}

// closing tells a 421 reply: the server is closing the session.
func closing(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code == 421
}

// classify makes a 5xx reply to a message's RCPT or DATA permanent: the
// server refuses this message for this recipient. Everything else is
// temporary: 4xx replies, timeouts, dropped or refused connections, and 5xx
// replies to MAIL FROM, which concern the sender (authentication required,
// sender address refused) and so the operator's configuration, not the
// message; they are retried until the operator mends it or the message is
// too old.
func classify(err error) error {
	var te *textproto.Error
	var se *smtpStageError
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 && errors.As(err, &se) && se.stage != "MAIL FROM" {
		return &PermanentError{Err: err}
	}
	return err
}

// take returns an idle connection, or a new one.
func (s *SMTP) take(ctx context.Context) (*smtpConn, bool, error) {
	s.mu.Lock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.lastUsed) < smtpIdleMax {
			s.mu.Unlock()
			return c, true, nil
		}
		go c.quit(s.timeout)
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, false, errors.New("smtp: sender closed")
	}
	c, err := s.dial(ctx)
	return c, false, err
}

// put keeps a connection for the next message.
func (s *SMTP) put(c *smtpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		go c.quit(s.timeout)
		return
	}
	s.idle = append(s.idle, c)
}

// dial connects, greets, secures and authenticates a new connection.
func (s *SMTP) dial(ctx context.Context) (*smtpConn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: connect: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := s.open(raw)
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return nil, fmt.Errorf("smtp: %s: %w", s.addr, err)
	}
	return &smtpConn{raw: raw, c: c, lastUsed: time.Now()}, nil
}

func (s *SMTP) open(raw net.Conn) (*smtp.Client, error) {
	if err := raw.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return nil, err
	}
	var conn net.Conn = raw
	if s.mode == tlsImplicit {
		tc := tls.Client(raw, s.tlsConfig)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	fail := func(stage string, err error) (*smtp.Client, error) {
		c.Close()
		return nil, fmt.Errorf("%s: %s", stage, replyText(err))
	}
	if err := c.Hello(s.helo); err != nil {
		return fail("EHLO", err)
	}
	if s.mode == tlsRequired || s.mode == tlsOpportunistic {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig); err != nil {
				return fail("STARTTLS", err)
			}
		} else if s.mode == tlsRequired {
			return fail("STARTTLS", errors.New("the server does not offer STARTTLS (add ?tls=opportunistic or ?tls=none to the URL to send without it)"))
		}
	}
	if s.user != "" {
		auth, err := s.auth(c)
		if err != nil {
			return fail("AUTH", err)
		}
		if err := c.Auth(auth); err != nil {
			return fail("AUTH", err)
		}
	}
	return c, nil
}

// auth picks a mechanism the server offers: SCRAM-SHA-256, PLAIN, LOGIN.
func (s *SMTP) auth(c *smtp.Client) (smtp.Auth, error) {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return nil, errors.New("credentials are configured but the server offers no AUTH")
	}
	offered := map[string]bool{}
	for _, m := range strings.Fields(strings.ToUpper(mechs)) {
		offered[m] = true
	}
	switch {
	case offered["SCRAM-SHA-256"]:
		return smtp.ScramSHA256Auth(s.user, s.pass), nil
	case offered["PLAIN"]:
		return smtp.PlainAuth("", s.user, s.pass, s.host, false), nil
	case offered["LOGIN"]:
		return smtp.LoginAuth(s.user, s.pass, s.host, false), nil
	}
	return nil, fmt.Errorf("no supported mechanism among %q (want SCRAM-SHA-256, PLAIN or LOGIN)", mechs)
}

func (c *smtpConn) close() { c.c.Close() }

// quit says goodbye politely, within the timeout.
func (c *smtpConn) quit(timeout time.Duration) {
	c.raw.SetDeadline(time.Now().Add(min(timeout, 5*time.Second)))
	if c.c.Quit() != nil {
		c.c.Close()
	}
}

// janitor closes connections left idle too long.
func (s *SMTP) janitor() {
	defer close(s.done)
	t := time.NewTicker(smtpIdleMax / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		keep := s.idle[:0]
		for _, c := range s.idle {
			if time.Since(c.lastUsed) >= smtpIdleMax {
				go c.quit(s.timeout)
			} else {
				keep = append(keep, c)
			}
		}
		clear(s.idle[len(keep):])
		s.idle = keep
		s.mu.Unlock()
	}
}

// Close quits the idle connections; connections in use are closed when
// their message is done. Send fails after Close.
func (s *SMTP) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(func() { c.quit(s.timeout) })
	}
	wg.Wait()
	return nil
}
