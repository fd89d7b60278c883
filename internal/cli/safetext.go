package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// writeSafeJSON writes v as indented JSON whose strings carry the
// characters safe escapes as \u escapes (json.Encoder writes C1 controls
// and bidirectional overrides as they are): the same JSON to a parser, and
// nothing a terminal acts on when a person reads it.
func writeSafeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	out := buf.Bytes()
	escape := func(r rune) bool { return r != '\n' && unsafeRune(r) }
	if !bytes.ContainsFunc(out, escape) {
		_, err := w.Write(out)
		return err
	}
	// Outside strings JSON is ASCII, so every such rune is inside one.
	var b strings.Builder
	for _, r := range string(out) {
		if escape(r) {
			fmt.Fprintf(&b, `\u%04X`, r)
		} else {
			b.WriteRune(r)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
