package csr

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
)

// Blocklist is a set of public keys believed compromised (-40). It holds
// SHA-256 hashes of SubjectPublicKeyInfo DER and, for lists in the format of
// Debian's openssl-blacklist (the weak keys of CVE-2008-0166), truncated
// SHA-1 hashes of RSA moduli. A nil *Blocklist contains nothing. It is not
// safe to add to while others read it: build it, then share it.
type Blocklist struct {
	spki   map[[32]byte]bool
	debian map[string]bool // last 20 hex digits of sha1("Modulus=%X\n")
}

// LoadBlocklist reads a blocklist file; see ParseBlocklist.
func LoadBlocklist(path string) (*Blocklist, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bl, err := ParseBlocklist(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bl, nil
}

// ParseBlocklist reads a list of compromised keys. Each line is empty, a
// comment starting with '#', 64 hex digits (SHA-256 of the key's
// SubjectPublicKeyInfo, as Boulder's blocked-keys table and the badkeys
// project publish them) or 20 hex digits (a line of Debian's
// openssl-blacklist files). PEM blocks of PUBLIC KEY, CERTIFICATE or
// CERTIFICATE REQUEST may stand between the lines: their keys are blocked.
// Anything else is an error naming the line.
func ParseBlocklist(r io.Reader) (*Blocklist, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	bl := &Blocklist{spki: map[[32]byte]bool{}, debian: map[string]bool{}}
	line := 1
	for len(data) > 0 {
		text := data
		i := bytes.Index(data, []byte("-----BEGIN"))
		if i >= 0 {
			text = data[:i]
		}
		if err := bl.addLines(text, line); err != nil {
			return nil, err
		}
		line += bytes.Count(text, []byte("\n"))
		if i < 0 {
			break
		}
		block, rest := pem.Decode(data[i:])
		if block == nil {
			return nil, fmt.Errorf("line %d: a PEM block that does not decode", line)
		}
		if err := bl.addPEM(block); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		line += bytes.Count(data[i:len(data)-len(rest)], []byte("\n"))
		data = rest
	}
	return bl, nil
}

func (bl *Blocklist) addLines(text []byte, first int) error {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := first; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		raw, err := hex.DecodeString(l)
		switch {
		case err == nil && len(raw) == 32:
			bl.spki[[32]byte(raw)] = true
		case err == nil && len(raw) == 10:
			bl.debian[strings.ToLower(l)] = true
		default:
			return fmt.Errorf("line %d: want 64 hex digits (SHA-256 of a SubjectPublicKeyInfo), 20 (an openssl-blacklist line) or a PEM block", n)
		}
	}
	return sc.Err()
}

func (bl *Blocklist) addPEM(b *pem.Block) error {
	var pub any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			pub = c.PublicKey
		}
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		var c *x509.CertificateRequest
		if c, err = x509.ParseCertificateRequest(b.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		return fmt.Errorf("PEM block %q: want PUBLIC KEY, CERTIFICATE or CERTIFICATE REQUEST", b.Type)
	}
	if err != nil {
		return fmt.Errorf("PEM block %q: %v", b.Type, err)
	}
	return bl.Add(pub)
}

// Add blocks a public key.
func (bl *Blocklist) Add(pub any) error {
	h, err := SPKIHash(pub)
	if err != nil {
		return err
	}
	bl.spki[h] = true
	return nil
}

// Len is the number of entries.
func (bl *Blocklist) Len() int {
	if bl == nil {
		return 0
	}
	return len(bl.spki) + len(bl.debian)
}

// Contains reports whether a public key is blocked.
func (bl *Blocklist) Contains(pub any) bool {
	if bl == nil {
		return false
	}
	if h, err := SPKIHash(pub); err == nil && bl.spki[h] {
		return true
	}
	if k, ok := pub.(*rsa.PublicKey); ok && len(bl.debian) > 0 {
		return bl.debian[DebianFingerprint(k)]
	}
	return false
}

// SPKIHash is the SHA-256 of a public key's SubjectPublicKeyInfo DER.
func SPKIHash(pub any) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(der), nil
}

// DebianFingerprint is the form in which Debian's openssl-blacklist lists an
// RSA key: the last 20 hex digits of the SHA-1 of "Modulus=" followed by the
// modulus in upper-case hex and a newline.
func DebianFingerprint(k *rsa.PublicKey) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("Modulus=%X\n", k.N)))
	return hex.EncodeToString(sum[:])[20:]
}
