package csr

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// TokenDomain binds a CSR-hash token to the vendor's validation system. It
// is the vendor's own name because resellers' code computes these tokens
// itself and writes them with this string.
const TokenDomain = "sectigo.com"

// Hashes are the two digests of the vendor's CSR-hash DCV methods
// (HTTP_CSR_HASH, HTTPS_CSR_HASH, CNAME_CSR_HASH), in upper-case hex, of
// the CSR's DER (never of its PEM text, whose line breaks vary).
type Hashes struct {
	MD5    string
	SHA256 string
}

// Hashes computes the CSR-hash digests of the request.
func (r *Request) Hashes() Hashes {
	m := md5.Sum(r.DER)
	s := sha256.Sum256(r.DER)
	return Hashes{
		MD5:    strings.ToUpper(hex.EncodeToString(m[:])),
		SHA256: strings.ToUpper(hex.EncodeToString(s[:])),
	}
}

// HTTPPath is where HTTP_CSR_HASH and HTTPS_CSR_HASH look for the file on
// each name: /.well-known/pki-validation/<MD5>.txt.
func (h Hashes) HTTPPath() string {
	return "/.well-known/pki-validation/" + h.MD5 + ".txt"
}

// HTTPContent is the file's content: the SHA-256, TokenDomain and the
// uniqueValue, one a line (the uniqueValue line only when there is one).
func (h Hashes) HTTPContent(uniqueValue string) string {
	s := h.SHA256 + "\n" + TokenDomain
	if uniqueValue != "" {
		s += "\n" + uniqueValue
	}
	return s
}

// CNAME is the record CNAME_CSR_HASH looks for at an Authorization Domain
// Name adn: "_<MD5>.<adn>." pointing at "<SHA-256 first half>.<SHA-256
// second half>[.<uniqueValue>].sectigo.com." (a DNS label holds at most 63
// characters, so the 64-digit hash is split).
func (h Hashes) CNAME(adn, uniqueValue string) (name, target string) {
	name = "_" + h.MD5 + "." + strings.TrimSuffix(adn, ".") + "."
	target = h.SHA256[:32] + "." + h.SHA256[32:] + "."
	if uniqueValue != "" {
		target += uniqueValue + "."
	}
	return name, target + TokenDomain + "."
}

// MaxUniqueValueLen is the longest uniqueValue the vendor accepts.
const MaxUniqueValueLen = 20

// ValidUniqueValue reports whether s is 1 to 20 ASCII letters and digits.
func ValidUniqueValue(s string) bool {
	if s == "" || len(s) > MaxUniqueValueLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// NewUniqueValue makes a uniqueValue for an order that sent none: 16
// random upper-case letters and digits (80 bits, from crypto/rand.Text), so
// that two orders for the same CSR never share a token.
func NewUniqueValue() string {
	return rand.Text()[:16]
}
