package contacts

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkClean fails on control characters, non-ASCII or uppercase in s.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c >= 'A' && c <= 'Z' {
			t.Fatalf("%s %q has byte %#x", what, s, c)
		}
	}
}

// docs/api.md §3: Normalize never panics; its output is a clean, lowercase
// A-label name, is its own normal form, and has ADNs.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"example.com", "*.Example.COM.", "bücher.example", "a.b.example.co.uk",
		"co.uk", "1.2.3.4", "[::1]", "exa mple.com", "-x.com", "x\x00.com",
		"example.com\r\n", "xn--bcher-kva.example", "ＥＸＡＭＰＬＥ.com", "a..b",
		"*.*.example.com", "ß.de", "x.user.github.io", strings.Repeat("a.", 130) + "com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			if out != "" {
				t.Fatalf("Normalize(%q) = %q with error %v", in, out, err)
			}
			return
		}
		checkClean(t, "Normalize output", out)
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", in, out, out, again, err)
		}
		adns, err := AuthorizationDomainNames(out)
		if err != nil || len(adns) == 0 || adns[len(adns)-1] != out {
			t.Fatalf("AuthorizationDomainNames(%q) = %q, %v", out, adns, err)
		}
		if !IsConstructedFor("admin@"+adns[0], out) {
			t.Fatalf("admin@%s not constructed for %q", adns[0], out)
		}
	})
}

// docs/rules.md: NormalizeMailbox never panics; its output is one bare
// mailbox with a clean lowercase A-label domain, and is its own normal form.
func FuzzNormalizeMailbox(f *testing.F) {
	for _, s := range []string{
		"dns@example.com", "DNS@Example.COM", "info@bücher.example", "a b@example.com",
		"Name <a@example.com>", "a@example.com, b@example.com", " a@example.com",
		"a@example.com\r\n", `"q"@example.com`, "a@[192.0.2.1]", "a@b@example.com",
		"(c)a@example.com", "a@localhost", "a@example.com.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeMailbox(in)
		if err != nil {
			if out != "" {
				t.Fatalf("NormalizeMailbox(%q) = %q with error %v", in, out, err)
			}
			return
		}
		if strings.Count(out, "@") != 1 {
			t.Fatalf("NormalizeMailbox(%q) = %q: not one @", in, out)
		}
		local, domain, _ := strings.Cut(out, "@")
		checkClean(t, "mailbox domain", domain)
		if !utf8.ValidString(local) || strings.IndexFunc(local, func(r rune) bool {
			return unicode.IsControl(r) || !unicode.IsGraphic(r)
		}) >= 0 {
			t.Fatalf("NormalizeMailbox(%q) = %q: local part not graphic", in, out)
		}
		again, err := NormalizeMailbox(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeMailbox(%q) = %q, but again %q, %v", in, out, again, err)
		}
	})
}
