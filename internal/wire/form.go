package wire

import (
	"net/url"
	"strings"
)

// MaxBody is the largest request body the API reads (docs/api.md §1).
const MaxBody = 64 << 10

// Pair is one name and value, in the order the client sent it.
type Pair struct {
	Name  string
	Value string
	// Bad marks a pair whose name or value is not valid percent-encoding;
	// the undecodable part is kept as sent.
	Bad bool
}

// ParseForm splits an application/x-www-form-urlencoded string leniently:
// pairs split on '&', name from value on the first '='; '+' is a space and
// %XX an octet, but characters that should have been escaped ('@', ':', '/',
// and so on) are taken as they are, since some real clients never escape.
// Empty segments are skipped; a segment without '=' is a name with an empty
// value. A pair with a bad %-escape is kept with its raw text and Bad set,
// so that the caller can still answer in the contract's order of checks.
func ParseForm(s string) []Pair {
	var out []Pair
	for s != "" {
		var seg string
		seg, s, _ = strings.Cut(s, "&")
		if seg == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(seg, "=")
		p := Pair{Name: rawName, Value: rawValue}
		name, nerr := url.QueryUnescape(rawName)
		value, verr := url.QueryUnescape(rawValue)
		if nerr == nil {
			p.Name = name
		}
		if verr == nil {
			p.Value = value
		}
		p.Bad = nerr != nil || verr != nil
		out = append(out, p)
	}
	return out
}

// TruncatedName is the name of the parameter that a body crosses MaxBody
// octets in: the errorItem of the -4 answer to an over-long body. head is
// the body's start, read somewhat past MaxBody so that a name cut by the
// limit can still be read whole.
func TruncatedName(head string) string {
	cut := min(len(head), MaxBody)
	start := strings.LastIndexByte(head[:cut], '&') + 1
	seg, _, _ := strings.Cut(head[start:], "&")
	raw, _, _ := strings.Cut(seg, "=")
	if name, err := url.QueryUnescape(raw); err == nil && name != "" {
		return name
	}
	return "body"
}
