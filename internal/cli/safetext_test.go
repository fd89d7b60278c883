package cli

import "testing"

// Issue 16, item 9: control and bidi characters a client chose (U+009B,
// U+202E in a user agent) never reach the operator's terminal raw.
func TestSafeEscapesControlAndBidi(t *testing.T) {
	for in, want := range map[string]string{
		"Mozilla/5.0":             "Mozilla/5.0",
		"ua\u009b31mred":          `ua\u009B31mred`,
		"evil\u202Etxt.exe":       `evil\u202Etxt.exe`,
		"a\x1b[2Jb\r\nc":          `a\u001B[2Jb\u000D\u000Ac`,
		"\u2066iso\u2069 \u200f":  `\u2066iso\u2069 \u200F`,
		"bad\xffutf8 back\\slash": `bad\xFFutf8 back\\slash`,
		"überall.example, 例え.テスト": "überall.example, 例え.テスト",
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
}
