package delivery_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/mail"
)

// writeKey writes a PEM private key and returns its file.
func writeKey(t *testing.T, kind string) string {
	t.Helper()
	var block *pem.Block
	switch kind {
	case "rsa-pkcs1":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case "ed25519":
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	file := filepath.Join(t.TempDir(), kind+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// txtRR is a TXT record in presentation format, split into strings of at
// most 255 bytes as DNS requires (a 2048-bit RSA key does not fit in one).
func txtRR(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return name + ". 300 IN TXT " + strings.Join(parts, " ")
}

// lookupTXTAt asks one DNS server, as a receiving mail server would ask its
// resolver.
func lookupTXTAt(addr string) func(string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	return func(name string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return r.LookupTXT(ctx, name)
	}
}

// A message signed on its way out verifies against the public key published
// in DNS, for both key kinds, and a changed message does not.
func TestDKIMSignatureVerifiesAgainstDNS(t *testing.T) {
	for _, kind := range []string{"rsa-pkcs1", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			signer, err := mail.LoadDKIM(writeKey(t, kind), "dcv2026", "DCVmail.test.")
			if err != nil {
				t.Fatal(err)
			}
			record, err := signer.TXTRecord()
			if err != nil {
				t.Fatal(err)
			}
			if signer.RecordName() != "dcv2026._domainkey.dcvmail.test" {
				t.Fatalf("record name %q", signer.RecordName())
			}
			dns := dnstest.Start(t, txtRR(signer.RecordName(), record))
			lookup := lookupTXTAt(dns.Addr())

			// Through the SMTP sender, as delivered.
			sk := startSink(t, sinkOptions{})
			s := newSMTP(t, "smtp://"+sk.Addr+"?tls=none", func(c *delivery.SMTPConfig) { c.DKIM = signer })
			if _, err := send(s, 1); err != nil {
				t.Fatal(err)
			}
			raw := sk.messages()[0].Data
			if !bytes.HasPrefix(raw, []byte("DKIM-Signature: ")) {
				t.Fatalf("no signature in front:\n%.300s", raw)
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "dcvmail.test" {
				t.Fatalf("verify: %v %+v", err, vs)
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "auto-submitted", "content-type"} {
				if !strings.Contains(strings.ToLower(strings.Join(vs[0].HeaderKeys, ":")), h) {
					t.Errorf("%s is not signed: %v", h, vs[0].HeaderKeys)
				}
			}
			// The signed message is still well-formed MIME.
			checkMIME(t, raw, testMessage(1))

			tampered := bytes.Replace(raw, []byte(mail.SampleFields.Code), []byte("FORGEDCODEFORGEDCODEFORGED"), 1)
			vs, err = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(vs) != 1 || vs[0].Err == nil {
				t.Fatalf("a changed body verified: %v %+v", err, vs)
			}
		})
	}
}

func TestLoadDKIMRefusesBadKeys(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"empty.pem": nil,
		"cert.pem":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"junk.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		file := filepath.Join(dir, name)
		os.WriteFile(file, content, 0o600)
		if _, err := mail.LoadDKIM(file, "s", "example.com"); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := mail.LoadDKIM(writeKey(t, "ed25519"), "", "example.com"); err == nil {
		t.Error("no selector accepted")
	}
}
