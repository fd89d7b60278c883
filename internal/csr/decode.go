package csr

import (
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Field is one KEY=value line of a DecodeCSR answer.
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Decoded is the content of a DecodeCSR answer: the refusals the request
// earns under Rules{} with any CN wildcard allowed (no product is known) and its fields, in the
// order the answer lists them: CN, O, OU, L, S, C, Email, Public Key (the
// SubjectPublicKeyInfo in upper-case hex, unconfirmed), Key Size, one
// dnsName line per DNS name of the SANs, md5 and sha1 (of the DER, as the
// vendor's legacy DCV used them). A request that does not decode has one
// error and no fields. Fields with no value are kept, with an empty value:
// the API drops them unless showEmptyFields asks for them.
type Decoded struct {
	Errors []*Error `json:"errors"`
	Fields []Field  `json:"fields"`
}

// Decode reads a CSR for DecodeCSR. It never fails: a CSR that does not
// decode gives a Decoded with its -9 or -10.
func Decode(text string, bl *Blocklist) Decoded {
	r, err := Parse(text)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = fail(CodeUndecodable, "")
		}
		return Decoded{Errors: []*Error{e}}
	}
	d := Decoded{Errors: r.Problems(Rules{Blocklist: bl, anyWildcard: true})}
	s := r.Subject
	add := func(k string, v ...string) { d.Fields = append(d.Fields, Field{k, strings.Join(v, ", ")}) }
	add("CN", s.CommonName)
	add("O", s.Organization...)
	add("OU", s.OrganizationalUnit...)
	add("L", s.Locality...)
	add("S", s.Province...)
	add("C", s.Country...)
	add("Email", emailAddresses(r)...)
	add("Public Key", strings.ToUpper(hex.EncodeToString(r.RawSubjectPublicKeyInfo)))
	add("Key Size", keySize(r.PublicKey))
	for _, n := range r.DNSNames {
		add("dnsName", n)
	}
	m := md5.Sum(r.DER)
	h := sha1.Sum(r.DER)
	add("md5", strings.ToUpper(hex.EncodeToString(m[:])))
	add("sha1", strings.ToUpper(hex.EncodeToString(h[:])))
	return d
}

// oidEmailAddress is PKCS#9 emailAddress, which OpenSSL puts in the subject
// when asked for an "Email Address".
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

func emailAddresses(r *Request) []string {
	var out []string
	for _, a := range r.Subject.Names {
		if a.Type.Equal(oidEmailAddress) {
			if s, ok := a.Value.(string); ok {
				out = append(out, s)
			}
		}
	}
	return append(out, r.EmailAddresses...)
}

func keySize(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		return strconv.Itoa(k.Curve.Params().BitSize)
	}
	return ""
}

// Text is the newline answer: the number of errors, one line per error
// ("code message"), then KEY=value lines, each line ending in "\n". Fields
// with an empty value are left out unless showEmpty.
func (d Decoded) Text(showEmpty bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(d.Errors))
	for _, e := range d.Errors {
		fmt.Fprintf(&b, "%d %s\n", e.Code, e.Message)
	}
	for _, f := range d.Fields {
		if f.Value == "" && !showEmpty {
			continue
		}
		// Values come from the CSR: a line break in one would forge lines.
		v := strings.NewReplacer("\r", " ", "\n", " ").Replace(f.Value)
		fmt.Fprintf(&b, "%s=%s\n", f.Key, v)
	}
	return b.String()
}
