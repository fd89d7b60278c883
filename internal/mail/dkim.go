package mail

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIM signs composed messages (RFC 6376) with one key: relaxed/relaxed
// canonicalization, SHA-256, RSA or Ed25519. The receiving server finds the
// public key at <Selector>._domainkey.<Domain> (see TXTRecord).
type DKIM struct {
	Domain   string
	Selector string
	Key      crypto.Signer
}

// dkimHeaders are the header fields a signature covers: those a reader sees
// and those that say what the message is. From must be among them.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// LoadDKIM reads a PEM private key (PKCS #1 or PKCS #8 RSA of at least 1024
// bits, or PKCS #8 Ed25519) for the given domain and selector.
func LoadDKIM(keyFile, selector, domain string) (*DKIM, error) {
	if selector == "" || domain == "" {
		return nil, errors.New("dkim: a selector and a domain are needed")
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	key, err := parseDKIMKey(b)
	if err != nil {
		return nil, fmt.Errorf("dkim: %s: %w", keyFile, err)
	}
	return &DKIM{Domain: strings.ToLower(strings.TrimSuffix(domain, ".")), Selector: selector, Key: key}, nil
}

func parseDKIMKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits: RFC 8301 wants at least 1024 (2048 recommended)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: want RSA or Ed25519", key)
}

// Sign returns the message with a DKIM-Signature header field in front.
func (d *DKIM) Sign(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(raw) + 1024)
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain:                 d.Domain,
		Selector:               d.Selector,
		Signer:                 d.Key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	return out.Bytes(), nil
}

// RecordName is the DNS name of the public key record.
func (d *DKIM) RecordName() string { return d.Selector + "._domainkey." + d.Domain }

// TXTRecord is the value of the TXT record the operator publishes at
// RecordName, e.g. "v=DKIM1; k=rsa; p=MIIB...".
func (d *DKIM) TXTRecord() (string, error) {
	switch k := d.Key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("dkim: unsupported key type %T", d.Key.Public())
}
