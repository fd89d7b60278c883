package csr

import (
	"fmt"
	"strings"

	"github.com/dcvmail/dcvmail/internal/contacts"
)

// NameError is a name of the request that cannot be in a certificate: bad
// syntax, a bare public suffix, or an IP address in the SANs. The API
// answers it as -4 on csr (the vendor has no code of its own for it).
type NameError struct {
	Name string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("csr: %q is not a domain name a certificate can hold", e.Name)
}

// Names are the order's domains from the request, normalized as the address
// list normalizes names (lower case, A-labels, no trailing dot) with a
// leading "*." kept: the Common Name first, then the DNS names of the
// subjectAltName extension, without repeats. A request with no CN starts
// with its first DNS name. IP addresses in the SANs are a *NameError;
// e-mail and URI SANs are ignored, since a TLS certificate carries neither.
func (r *Request) Names() ([]string, error) {
	if len(r.IPAddresses) > 0 {
		return nil, &NameError{Name: r.IPAddresses[0].String()}
	}
	raw := r.DNSNames
	if r.Subject.CommonName != "" {
		raw = append([]string{r.Subject.CommonName}, raw...)
	}
	if len(raw) == 0 {
		return nil, fail(CodeMissingField, "no Common Name and no DNS name")
	}
	return NormalizeNames(raw)
}

// NormalizeNames normalizes each name as Names does and drops repeats,
// keeping the first occurrence's place.
func NormalizeNames(raw []string) ([]string, error) {
	out := make([]string, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for _, n := range raw {
		norm, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	return out, nil
}

// NormalizeName normalizes one certificate name: a host name as
// contacts.Normalize makes it, with one leading "*." label kept.
func NormalizeName(name string) (string, error) {
	wild := strings.HasPrefix(name, "*.")
	base, err := contacts.Normalize(name)
	if err != nil || strings.Contains(base, "*") {
		return "", &NameError{Name: name}
	}
	if wild {
		return "*." + base, nil
	}
	return base, nil
}

// Companion is the second name a single-domain certificate carries: "www."
// added to a name, or taken off "www.name", and the bare name for a
// wildcard ("*.example.com" also covers "example.com"). It reports false
// when there is none (taking "www." off would leave a public suffix).
// Which of these the vendor adds is unconfirmed (docs/sectigo-divergences.md).
func Companion(name string) (string, bool) {
	var other string
	switch {
	case strings.HasPrefix(name, "*."):
		other = name[2:]
	case strings.HasPrefix(name, "www."):
		other = name[4:]
	default:
		other = "www." + name
	}
	norm, err := NormalizeName(other)
	if err != nil || norm != other {
		return "", false
	}
	return other, true
}

// SingleDomainNames are the domains of a single-domain or wildcard order:
// the request's primary name (its CN, or its first DNS name) and that
// name's Companion. Other SANs of the request are ignored, as the vendor
// ignores them for single-domain products.
func (r *Request) SingleDomainNames() ([]string, error) {
	names, err := r.Names()
	if err != nil {
		return nil, err
	}
	out := names[:1:1]
	if c, ok := Companion(out[0]); ok {
		out = append(out, c)
	}
	return out, nil
}
