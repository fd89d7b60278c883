package wire

import (
	"errors"
	"net/url"
	"strings"
)

// MaxBody is the largest request body the API reads (wire.md section 1).
const MaxBody = 64 << 10

// Pair is one name and value, in the order the client sent it.
type Pair struct {
	Name  string
	Value string
}

// BadEscapeError reports a parameter whose name or value is not valid
// percent-encoding.
type BadEscapeError struct{ Name string }

func (e *BadEscapeError) Error() string { return "wire: bad escape in parameter " + e.Name }

// ParseForm splits an application/x-www-form-urlencoded string leniently:
// pairs split on '&', name from value on the first '='; '+' is a space and
// %XX an octet, but characters that should have been escaped ('@', ':', '/',
// and so on) are taken as they are, since some real clients never escape.
// Empty segments are skipped; a segment without '=' is a name with an empty
// value. A bad %-escape is a *BadEscapeError naming the parameter.
func ParseForm(s string) ([]Pair, error) {
	var out []Pair
	for s != "" {
		var seg string
		seg, s, _ = strings.Cut(s, "&")
		if seg == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(seg, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return out, &BadEscapeError{Name: rawName}
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return out, &BadEscapeError{Name: name}
		}
		out = append(out, Pair{name, value})
	}
	return out, nil
}

// TruncatedName is the name of the parameter that a body cut at MaxBody
// octets was carrying when it was cut: the errorItem of the -4 answer to an
// over-long body.
func TruncatedName(prefix string) string {
	if i := strings.LastIndexByte(prefix, '&'); i >= 0 {
		prefix = prefix[i+1:]
	}
	raw, _, _ := strings.Cut(prefix, "=")
	if name, err := url.QueryUnescape(raw); err == nil && name != "" {
		return name
	}
	return "body"
}

// ErrTooLarge is returned by readers of bodies larger than MaxBody.
var ErrTooLarge = errors.New("wire: request body larger than 64 KiB")
