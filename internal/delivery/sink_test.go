package delivery_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// sink is an in-process SMTP server on 127.0.0.1 that keeps what it
// receives and answers as its hook says: any 4xx/5xx at any step, a dropped
// connection, or a stall.
type sink struct {
	Addr string

	mu       sync.Mutex
	msgs     []received
	hook     func(stage string, c *gosmtp.Conn) error
	sessions int

	active, maxActive atomic.Int32
	stop              chan struct{} // closed when the test ends: stalls give up
	srv               *gosmtp.Server
}

type received struct {
	From, To string
	Data     []byte
	TLS      bool
	User     string
}

type sinkOptions struct {
	tls      *tls.Config // STARTTLS offered
	implicit bool        // TLS from the first byte
	users    map[string]string
	readTO   time.Duration // the server drops idle clients after it
}

// startSink starts a sink; it stops when the test ends.
func startSink(t testing.TB, o sinkOptions) *sink {
	t.Helper()
	s := &sink{stop: make(chan struct{})}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		n := s.active.Add(1)
		for {
			m := s.maxActive.Load()
			if n <= m || s.maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		return &sinkSession{s: s, c: c, users: o.users}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = o.readTO
	if srv.ReadTimeout == 0 {
		srv.ReadTimeout = 30 * time.Second
	}
	srv.WriteTimeout = 10 * time.Second
	var ln net.Listener
	var err error
	if o.implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		srv.TLSConfig = o.tls
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(s.stop)
		srv.Close()
	})
	return s
}

// setHook sets how the sink answers; nil accepts everything.
func (s *sink) setHook(h func(stage string, c *gosmtp.Conn) error) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *sink) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *sink) call(stage string, c *gosmtp.Conn) error {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(stage, c)
}

// stall blocks until the test ends: a server that never answers.
func (s *sink) stall() error {
	<-s.stop
	return errors.New("stopped")
}

// drop closes the client's connection without a reply.
func drop(c *gosmtp.Conn) error {
	c.Conn().Close()
	return errors.New("dropped")
}

func smtpErr(code int, enh gosmtp.EnhancedCode, msg string) error {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

type sinkSession struct {
	s        *sink
	c        *gosmtp.Conn
	users    map[string]string
	user     string
	from, to string
}

func (ss *sinkSession) AuthMechanisms() []string {
	if ss.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if p, ok := ss.users[username]; !ok || p != password {
			return gosmtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.users != nil && ss.user == "" {
		return gosmtp.ErrAuthRequired
	}
	if err := ss.s.call("MAIL", ss.c); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if err := ss.s.call("RCPT", ss.c); err != nil {
		return err
	}
	ss.to = to
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.call("DATA", ss.c); err != nil {
		return err
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: ss.to, Data: b, TLS: isTLS, User: ss.user})
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset() { ss.from, ss.to = "", "" }

func (ss *sinkSession) Logout() error {
	ss.s.active.Add(-1)
	return nil
}

// testCA makes a CA and a certificate for 127.0.0.1 and localhost signed by
// it; it returns the server's TLS config and the CA's PEM file.
func testCA(t testing.TB) (*tls.Config, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dcvmail test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, file
}
