package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// safe is s as a terminal may show it: control characters (C0, DEL, C1 such
// as U+009B, which a terminal takes as the start of an escape sequence),
// bidirectional overrides and isolates (U+202E shows text reversed), line
// separators and invalid UTF-8 are written as \u or \x escapes, and so is
// a backslash, so that the output reads back unambiguously. Values that
// clients chose (user agents, replies, addresses) pass through it in every
// human-facing output.
func safe(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r == '\\' || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029, r == 0xFEFF:
		return true
	}
	return false
}
