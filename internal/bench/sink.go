package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// sink is an in-process SMTP server on 127.0.0.1 that accepts every message
// and counts it. It offers STARTTLS with a certificate of its own, so the
// sender runs as in production (TLS required), unless started plain.
type sink struct {
	addr   string
	caFile string // PEM of the sink's certificate, for --smtp-ca; "" when plain
	srv    *gosmtp.Server

	received atomic.Int64
	bytes    atomic.Int64
	last     atomic.Int64 // UnixNano of the last message received

	mu   sync.Mutex
	gate chan struct{} // while not nil, MAIL FROM waits until it is closed
}

// hold makes the sink answer no MAIL FROM until release: the outbox
// worker's sends wait, and it claims nothing more, so that a step measures
// the API alone while its deliveries queue in the outbox.
func (s *sink) hold() {
	s.mu.Lock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
	s.mu.Unlock()
}

// release lets the held sends through.
func (s *sink) release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

func (s *sink) wait() {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		<-g
	}
}

// startSink listens on 127.0.0.1; with starttls it writes its certificate
// to dir for the sender to trust.
func startSink(dir string, starttls bool) (*sink, error) {
	s := &sink{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	srv.Domain = "sink.bench"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 1 << 20
	if starttls {
		cfg, pemBytes, err := selfSigned()
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = cfg
		s.caFile = filepath.Join(dir, "sink-ca.pem")
		if err := os.WriteFile(s.caFile, pemBytes, 0o600); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(ln)
	return s, nil
}

// url is the --smtp URL of the sink.
func (s *sink) url() string {
	if s.caFile == "" {
		return "smtp://" + s.addr + "?tls=none"
	}
	return "smtp://" + s.addr
}

func (s *sink) close() {
	s.release()
	s.srv.Close()
}

type sinkSession struct{ s *sink }

func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error {
	ss.s.wait()
	return nil
}

func (*sinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (*sinkSession) Reset()                                 {}
func (*sinkSession) Logout() error                          { return nil }

func (ss *sinkSession) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	ss.s.bytes.Add(n)
	ss.s.received.Add(1)
	ss.s.last.Store(time.Now().UnixNano())
	return nil
}

// selfSigned makes an ECDSA certificate for 127.0.0.1 and localhost and
// returns a server config with it and its PEM (the sender's CA file).
func selfSigned() (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dcvmail bench SMTP sink"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
