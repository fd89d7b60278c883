package dcv

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A submitted code is trimmed and uppercased; only 26 characters of A-Z
// and 2-7 have the shape of a random value.
func TestNormalizeCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", true},
		{" \tabcdefghijklmnopqrstuvwx23\r\n", "ABCDEFGHIJKLMNOPQRSTUVWX23", true},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY", "", false},   // 25
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZA", "", false}, // 27
		{"ABCDEFGHIJKLMNOPQRSTUVWXY1", "", false},  // 1 is not in base32
		{"ABCDEFGHIJKLM OPQRSTUVWXYZ", "", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY\u00c9", "", false},
		{"", "", false},
	} {
		got, ok := NormalizeCode(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// What New makes has that shape.
	v, _, err := NewRandomValues([]byte("0123456789abcdef"), strings.NewReader(strings.Repeat("x", 16))).New()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := NormalizeCode(strings.ToLower(v)); !ok || got != v {
		t.Fatalf("a random value %q does not normalize to itself", v)
	}
}

// Evidence from clients is stored as valid UTF-8 of bounded length.
func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // never half a rune
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		got := clip(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
