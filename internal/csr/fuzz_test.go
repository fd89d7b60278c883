package csr

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to everything a stranger's csr value
// reaches before login is even checked (DecodeCSR needs none): Parse,
// Check, Names, Hashes and Decode must never panic, every refusal must be
// an *Error with the vendor's message, and a DecodeCSR answer must have
// exactly the lines it claims.
func FuzzParse(f *testing.F) {
	der := makeCSR(f, ecKey(), simple("*.example.com", "example.com", "www.example.com"))
	f.Add(pemOf(der))
	f.Add(base64.StdEncoding.EncodeToString(der))
	f.Add(pemOf(forge(f, rsaKey().Public(), nil, simple("192.0.2.1"))))
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\n-----END")
	f.Add("MIIB")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		d := Decode(text, nil)
		lines := strings.Count(d.Text(true), "\n")
		if lines != 1+len(d.Errors)+len(d.Fields) {
			t.Fatalf("Decode text has %d lines for %d errors and %d fields", lines, len(d.Errors), len(d.Fields))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || messages[e.Code] != e.Message || e.Message == "" {
				t.Fatalf("refusal %v is not a vendor error", err)
			}
			if len(d.Errors) != 1 || d.Errors[0].Code != e.Code || len(d.Fields) != 0 {
				t.Fatalf("Decode disagrees with Parse: %v vs %v", d.Errors, err)
			}
			return
		}
		for _, rules := range []Rules{{}, {Wildcard: true}, {Intranet: true}} {
			if err := r.Check(rules); err != nil {
				var e *Error
				if !errors.As(err, &e) || messages[e.Code] != e.Message {
					t.Fatalf("check refusal %v is not a vendor error", err)
				}
			}
		}
		if names, err := r.Names(); err == nil {
			for _, n := range names {
				if again, err := NormalizeName(n); err != nil || again != n {
					t.Fatalf("name %q is not normal: %q %v", n, again, err)
				}
			}
		}
		_, _ = r.SingleDomainNames()
		if h := r.Hashes(); len(h.MD5) != 32 || len(h.SHA256) != 64 {
			t.Fatalf("hashes %+v", h)
		}
	})
}
