package ca

import (
	"archive/zip"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// PKCS7 packs certificates into a PKCS#7 certs-only SignedData (RFC 2315
// "degenerate" form, what `openssl crl2pkcs7 -nocrl` makes), in the order
// given: CollectSSL responseType 2.
func PKCS7(certs ...*x509.Certificate) ([]byte, error) {
	if len(certs) == 0 {
		return nil, errors.New("ca: no certificates to pack")
	}
	var all []byte
	for _, c := range certs {
		all = append(all, c.Raw...)
	}
	return pkcs7.DegenerateCertificate(all)
}

// ZIP packs a certificate and its CA certificates into a ZIP archive of PEM
// files, as the vendor's ZIP bundle holds them (CollectSSL responseType 0):
// the certificate as <primary name>.crt with dots as underscores and a
// wildcard as STAR ("STAR_example_com.crt"), and each CA certificate,
// root first, as <its CN without spaces>.crt. modified is the time the
// entries carry (the issuance time, so the same certificate always packs
// the same way).
func ZIP(leaf *x509.Certificate, chain []*x509.Certificate, modified time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, c *x509.Certificate) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified.UTC()})
		if err != nil {
			return err
		}
		return pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := add(fileName(leafName(leaf))+".crt", leaf); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, c := range chain {
		name := fileName(strings.ReplaceAll(c.Subject.CommonName, " ", ""))
		if name == "" {
			name = "CA"
		}
		if seen[name]++; seen[name] > 1 {
			name += "_" + string(rune('0'+seen[name]))
		}
		if err := add(name+".crt", c); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func leafName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return "certificate"
}

// fileName keeps letters, digits, '-' and '_' of a name, with '*' as STAR
// and '.' as '_', so an archive entry can never climb out of a directory.
func fileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '*':
			b.WriteString("STAR")
		case r == '.':
			b.WriteByte('_')
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		}
	}
	return b.String()
}
