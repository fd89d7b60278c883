package sps

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// clean reports whether s can travel as a field of the text format: no line
// break, no white space at either end (the decoder trims it).
func clean(s string) bool {
	return !strings.ContainsAny(s, "\r\n") && s == strings.TrimSpace(s)
}

// noControls is what the text format makes of a message: control
// characters become '?', since a line break would split the answer.
func noControls(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// FuzzEncodeDecode: what the server's encoders (internal/wire) write, this
// package reads back as written. Errors in all three formats keep their
// code, message, item and detail (as far as each format carries them:
// text has no item or detail, JSON no invalid UTF-8), whatever the item
// holds, since the item of -2 is a name the client sent. Success pairs keep
// their names and values in the form and JSON formats, and in the text
// format when they are single clean lines (the server writes only
// normalized names and addresses there).
func FuzzEncodeDecode(f *testing.F) {
	f.Add(uint8(3), "domainName", "", "level2_email", "admin@example.com")
	f.Add(uint8(1), "x\nlevel2_email\tevil@example.org", "request id 0123abcd", "1_domainName", "*.example.com")
	f.Add(uint8(2), "a&b=c+d%", "retry after 2026-11-26T12:00:01Z", "domain_name", "www.example.com")
	f.Add(uint8(6), "", "", "errorCode", "1")
	f.Add(uint8(0), "\xff\xfe", "\u2028", "1_lastSentAt", "2026-03-01T09:30:00Z")
	f.Add(uint8(4), "x\r\nerrorDetail\tforged", " ", "whois_email", "none")
	f.Fuzz(func(t *testing.T, which uint8, item, detail, name, value string) {
		rows := wire.Table()
		e := &wire.Error{Code: rows[int(which)%len(rows)].Code, Item: item, Detail: detail}
		if e.Code == wire.WrongMethod {
			e.Method = "PUT"
		}
		for _, format := range []wire.Format{wire.FormatForm, wire.FormatText, wire.FormatJSON} {
			body := wire.EncodeError(format, e)
			a, err := decodeAnswer(body)
			if err != nil {
				t.Fatalf("format %d: %v decoding %q", format, err, body)
			}
			got, want := a.status, wire.Status{Code: e.Code, Message: e.Message(), Item: item, Detail: detail}
			switch {
			case format == wire.FormatText:
				want = wire.Status{Code: e.Code, Message: noControls(e.Message())}
			case format == wire.FormatJSON && !(utf8.ValidString(item) && utf8.ValidString(detail)):
				got, want = wire.Status{Code: got.Code}, wire.Status{Code: e.Code}
			}
			if got != want {
				t.Fatalf("format %d: %q decodes to %+v, want %+v", format, body, got, want)
			}
			if format == wire.FormatText && len(a.pairs) != 0 {
				t.Fatalf("the text error %q carries pairs %+v", body, a.pairs)
			}
			if ce := (&Client{}).apiError(a.status); ce.Code != int(e.Code) {
				t.Fatalf("client error %+v for code %d", ce, e.Code)
			}
		}

		if name == "" || wire.IsStatusKey(name) {
			return
		}
		// Form: the pairs come back as written.
		a, err := decodeAnswer(wire.EncodeForm([]wire.Pair{{Name: "errorCode", Value: "0"}, {Name: name, Value: value}}))
		if err != nil || a.status.Code != 0 || len(a.pairs) != 1 || a.pairs[0].Name != name || a.pairs[0].Value != value || a.pairs[0].Bad {
			t.Fatalf("form %q=%q: %+v %v", name, value, a, err)
		}
		_, _ = decodeDomainDetails(a)
		// Text: single clean lines come back as written.
		if clean(name) && !strings.Contains(name, "\t") && clean(value) {
			a, err := decodeAnswer(wire.EncodeText([]wire.Pair{{Name: name, Value: value}}))
			if err != nil || a.status.Code != 0 || len(a.pairs) != 1 || a.pairs[0].Name != name || a.pairs[0].Value != value {
				t.Fatalf("text %q\\t%q: %+v %v", name, value, a, err)
			}
			if name == "level2_email" && value != "" {
				if l := decodeAddressList(a); len(l.Levels) != 1 || l.Levels[0].Emails[0] != value {
					t.Fatalf("address list %+v", l)
				}
			}
		}
		// JSON: members come back as written, valid UTF-8 assumed.
		if utf8.ValidString(name) && utf8.ValidString(value) { // each: "\xc8"+"\xb0" is valid together
			body := wire.EncodeJSON([]wire.Field{{Key: "errorCode", Value: 0}, {Key: name, Value: value}, {Key: "level2Emails", Value: []string{value}}})
			a, err := decodeAnswer(body)
			if err != nil || a.status.Code != 0 || wire.JSONString(a.object[name]) != value && name != "level2Emails" {
				t.Fatalf("JSON %s: %+v %v", body, a, err)
			}
			if l := decodeAddressList(a); value != "" && !strings.EqualFold(name, "level2Emails") && (len(l.Levels) == 0 || l.Levels[0].Emails[len(l.Levels[0].Emails)-1] != value) {
				t.Fatalf("address list from %s: %+v", body, l)
			}
		}
	})
}
