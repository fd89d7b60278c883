// Package csr reads the certificate signing requests that resellers send
// with AutoApplySSL, AutoReplaceSSL and DecodeCSR, and checks them the way
// the vendor does: each refusal is an *Error carrying the vendor's errorCode
// and exact message (docs/api.md, orders: the CSR checks).
//
// It also derives what an order needs from a request: its names (Names,
// SingleDomainNames) and the CSR-hash DCV tokens (Hashes), and the content
// of a DecodeCSR answer (Decode). It knows nothing of accounts, orders or
// storage.
package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest csr value the vendor accepts, in characters.
const MaxLen = 32767

// Codes and messages of the CSR checks, exactly as the vendor words them.
const (
	CodeWildcardNotAllowed = -5
	CodeWildcardRequired   = -6
	CodeMissingField       = -8
	CodeNotBase64          = -9
	CodeUndecodable        = -10
	CodeAlgorithm          = -11
	CodeSignature          = -12
	CodeKeySize            = -13
	CodeFQDNNotAllowed     = -18
	CodePublicIP           = -19
	CodeIPAddress          = -35
	CodeCompromisedKey     = -40
)

var messages = map[int]string{
	CodeWildcardNotAllowed: "The CSR's Common Name may NOT contain a wildcard!",
	CodeWildcardRequired:   "The CSR's Common Name MUST contain ONE wildcard!",
	CodeMissingField:       "The CSR is missing a required field!",
	CodeNotBase64:          "The CSR is not valid Base-64 data!",
	CodeUndecodable:        "The CSR cannot be decoded!",
	CodeAlgorithm:          "The CSR uses an unsupported algorithm!",
	CodeSignature:          "The CSR has an invalid signature!",
	CodeKeySize:            "The CSR uses an unsupported key size!",
	CodeFQDNNotAllowed:     "The CSR's Common Name may not be a Fully-Qualified Domain Name!",
	CodePublicIP:           "The CSR's Common Name may not be an Internet-accessible IP Address!",
	CodeIPAddress:          "The CSR's Common Name may not be an IP Address!",
	CodeCompromisedKey:     "The CSR uses a key that is believed to have been compromised!",
}

// Error is a refusal of a CSR with the vendor's errorCode and message. The
// API answers Code and Message as they are; Detail is dcvmail's own
// explanation, fit for errorDetail (it never contains + % & =).
type Error struct {
	Code    int    `json:"errorCode"`
	Message string `json:"errorMessage"`
	Detail  string `json:"-"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("csr: %d %s (%s)", e.Code, e.Message, e.Detail)
	}
	return fmt.Sprintf("csr: %d %s", e.Code, e.Message)
}

func fail(code int, detail string) *Error {
	return &Error{Code: code, Message: messages[code], Detail: detail}
}

// Request is a decoded CSR. Its signature and key are not yet checked: call
// Check.
type Request struct {
	*x509.CertificateRequest
	// DER is the request as DER, the input of the CSR-hash DCV tokens.
	DER []byte
}

// Parse decodes a CSR as resellers send it: PEM with its armour, the same
// without the BEGIN and END lines, or bare base64, with any line breaks and
// spaces. It refuses text that is not base64 with -9 and base64 that is not
// a PKCS#10 request with -10. Text over MaxLen is refused with -9 as well,
// but the API should have answered -4 on csr before calling Parse.
func Parse(text string) (*Request, error) {
	if len(text) > MaxLen {
		return nil, fail(CodeNotBase64, "longer than 32767 characters")
	}
	der, err := decodeBase64(stripArmour(text))
	if err != nil {
		return nil, fail(CodeNotBase64, "")
	}
	if len(der) == 0 {
		return nil, fail(CodeUndecodable, "empty")
	}
	cr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fail(CodeUndecodable, "not a PKCS#10 request")
	}
	return &Request{CertificateRequest: cr, DER: der}, nil
}

// stripArmour removes every "-----BEGIN ...-----" and "-----END ...-----"
// marker (any label: clients send "NEW CERTIFICATE REQUEST" too) and keeps
// what lies between.
func stripArmour(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "-----")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+5:]
		if !strings.HasPrefix(rest, "BEGIN") && !strings.HasPrefix(rest, "END") {
			// Not a marker: keep the dashes so that base64 decoding refuses them.
			b.WriteString("-----")
			s = rest
			continue
		}
		j := strings.Index(rest, "-----")
		if j < 0 {
			// An unterminated marker is not base64 either.
			b.WriteString(s[i:])
			return b.String()
		}
		s = rest[j+5:]
	}
}

// decodeBase64 accepts the standard alphabet with or without padding,
// ignoring ASCII white space. Any other character is an error.
func decodeBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n', '\v', '\f':
		default:
			clean = append(clean, c)
		}
	}
	clean = bytes.TrimRight(clean, "=")
	if bytes.IndexByte(clean, '=') >= 0 {
		return nil, errors.New("padding inside the data")
	}
	return base64.RawStdEncoding.DecodeString(string(clean))
}
