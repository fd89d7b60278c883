// Package contacts decides who may receive a DCV email for a name: the
// Authorization Domain Names (ADNs) of a Fully-Qualified Domain Name, the
// constructed addresses of BR 3.2.2.4.4, and the DNS TXT (BR 3.2.2.4.14) and
// CAA (BR 3.2.2.4.13) contacts.
//
// It knows nothing of accounts, orders or storage: it turns names into lists
// of permitted recipients and nothing else.
package contacts

import (
	"errors"
	"net"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// ErrInvalidName is returned for a name that cannot be validated: bad syntax,
// an IP address, or a bare public suffix.
var ErrInvalidName = errors.New("contacts: invalid domain name")

// ErrInvalidMailbox is returned for an address that is not one bare, valid
// mailbox.
var ErrInvalidMailbox = errors.New("contacts: invalid mailbox")

// ConstructedLocalParts are the local parts BR 3.2.2.4.4 permits, in the
// order the wire contract lists them within one level.
var ConstructedLocalParts = []string{"admin", "administrator", "hostmaster", "postmaster", "webmaster"}

// idnaProfile converts U-labels to A-labels and enforces host-name rules.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

// Normalize turns a name as a client sends it into the FQDN that DCV works
// on: lowercased, one leading "*." removed, one trailing dot removed, IDN
// converted to A-labels. IP addresses, invalid names and bare public suffixes
// (ICANN section) are refused with ErrInvalidName.
func Normalize(name string) (string, error) {
	if name == "" || len(name) > 255 || hasControl(name) || !utf8.ValidString(name) {
		return "", ErrInvalidName
	}
	n := strings.TrimPrefix(name, "*.")
	n = strings.TrimSuffix(n, ".")
	if net.ParseIP(strings.Trim(n, "[]")) != nil {
		return "", ErrInvalidName
	}
	n, err := hostName(n)
	if err != nil {
		return "", err
	}
	if _, err := BaseDomainName(n); err != nil {
		return "", err
	}
	return n, nil
}

// hostName converts a host name to lowercase A-labels and checks that every
// label is letters, digits and inner hyphens, 1 to 63 octets, at least two
// labels in all.
func hostName(n string) (string, error) {
	a, err := idnaProfile.ToASCII(n)
	if err != nil || a == "" || len(a) > 253 {
		return "", ErrInvalidName
	}
	a = strings.ToLower(a)
	// The result must be its own normal form (an A-label that does not
	// decode back to a valid U-label is refused).
	if again, err := idnaProfile.ToASCII(a); err != nil || again != a {
		return "", ErrInvalidName
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", ErrInvalidName
	}
	for _, l := range labels {
		if !isLDHLabel(l) {
			return "", ErrInvalidName
		}
	}
	// A name whose last label is all digits is an address, not a host.
	if allDigits(labels[len(labels)-1]) {
		return "", ErrInvalidName
	}
	return a, nil
}

func isLDHLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func notGraphic(r rune) bool { return !unicode.IsGraphic(r) }

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// icannSuffix is the public suffix of name by the ICANN section of the
// Public Suffix List alone (docs/rules.md): a private-section match is
// replaced by the ICANN suffix beneath it. A name under no listed TLD gets
// the list's default rule "*", its last label.
func icannSuffix(name string) string {
	ps, icann := publicsuffix.PublicSuffix(name)
	for !icann {
		i := strings.IndexByte(ps, '.')
		if i < 0 {
			break
		}
		ps, icann = publicsuffix.PublicSuffix(ps[i+1:])
	}
	return ps
}

// BaseDomainName is the label left of the public suffix together with that
// suffix ("a.b.example.co.uk" gives "example.co.uk"). A bare public suffix has
// none.
func BaseDomainName(fqdn string) (string, error) {
	suffix := icannSuffix(fqdn)
	if fqdn == suffix || !strings.HasSuffix(fqdn, "."+suffix) {
		return "", ErrInvalidName
	}
	rest := strings.TrimSuffix(fqdn, "."+suffix)
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest + "." + suffix, nil
}

// AuthorizationDomainNames lists the ADNs of a normalized FQDN from the Base
// Domain Name up to the FQDN itself. A parent of the Base Domain Name (a
// public suffix) is never among them.
func AuthorizationDomainNames(fqdn string) ([]string, error) {
	bdn, err := BaseDomainName(fqdn)
	if err != nil {
		return nil, err
	}
	adns := []string{bdn}
	for n := bdn; n != fqdn; {
		prefix := strings.TrimSuffix(fqdn, "."+n)
		i := strings.LastIndexByte(prefix, '.')
		n = prefix[i+1:] + "." + n
		adns = append(adns, n)
	}
	return adns, nil
}

// Level is the wire contract's level of an ADN: 2 for the Base Domain Name,
// one more for each label to its left.
func Level(adn, bdn string) int {
	return 2 + strings.Count(adn, ".") - strings.Count(bdn, ".")
}

// ConstructedAddresses are the BR 3.2.2.4.4 addresses of a normalized FQDN:
// for each ADN from the Base Domain Name up, the five local parts in the
// contract's order.
func ConstructedAddresses(fqdn string) ([]Address, error) {
	adns, err := AuthorizationDomainNames(fqdn)
	if err != nil {
		return nil, err
	}
	out := make([]Address, 0, len(adns)*len(ConstructedLocalParts))
	for _, adn := range adns {
		for _, lp := range ConstructedLocalParts {
			out = append(out, Address{
				Mailbox: lp + "@" + adn,
				Source:  Constructed,
				ADN:     adn,
				Level:   Level(adn, adns[0]),
			})
		}
	}
	return out, nil
}

// IsConstructedFor reports whether a normalized mailbox is a BR 3.2.2.4.4
// constructed address for the normalized FQDN: one of the five local parts
// at one of its ADNs. A mailbox at a child name never covers its parent.
func IsConstructedFor(mailbox, fqdn string) bool {
	at := strings.LastIndexByte(mailbox, '@')
	if at < 0 {
		return false
	}
	local, domain := mailbox[:at], mailbox[at+1:]
	found := false
	for _, lp := range ConstructedLocalParts {
		if local == lp {
			found = true
		}
	}
	if !found {
		return false
	}
	adns, err := AuthorizationDomainNames(fqdn)
	if err != nil {
		return false
	}
	for _, adn := range adns {
		if adn == domain {
			return true
		}
	}
	return false
}

// NormalizeMailbox checks that s is one bare mailbox (no display name, no
// comments, no CR, LF or NUL, at most 255 octets, valid UTF-8) and returns
// it with its domain lowercased and converted to A-labels. The local part
// keeps its case; a non-ASCII local part (RFC 6531) is accepted when every
// character in it is graphic.
func NormalizeMailbox(s string) (string, error) {
	if s == "" || len(s) > 255 || hasControl(s) || !utf8.ValidString(s) {
		return "", ErrInvalidMailbox
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrInvalidMailbox
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || strings.ContainsAny(local, "\" \\") || strings.IndexFunc(local, notGraphic) >= 0 {
		return "", ErrInvalidMailbox
	}
	d, err := hostName(domain)
	if err != nil {
		return "", ErrInvalidMailbox
	}
	return local + "@" + d, nil
}
