package dcv

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// docs/rules.md / BR 1.6.1: at least 112 bits of entropy; dcvmail uses 128
// from the injected source, unique in each email, and stores a keyed hash.
func TestRandomValueEntropyAndHash(t *testing.T) {
	rv := NewRandomValues([]byte("0123456789abcdef0123456789abcdef"), rand.Reader)
	seen := map[string]bool{}
	for range 1000 {
		v, h, err := rv.New()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 26 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("value %q: want 26 characters of A-Z2-7", v)
		}
		if seen[v] {
			t.Fatalf("value %q repeated", v)
		}
		seen[v] = true
		if strings.Contains(h, v) || len(h) != 64 || !rv.Matches(v, h) || rv.Matches(strings.ToLower(v), h) {
			t.Fatalf("hash %q of %q", h, v)
		}
	}
	// The value is exactly the injected 16 bytes: 128 bits.
	fixed := NewRandomValues([]byte("k"), bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	v, _, _ := fixed.New()
	if v != "77777777777777777777777774" {
		t.Fatalf("16 bytes of 0xff encode to %q", v)
	}
	// Another key gives another hash: the hash is keyed.
	other := NewRandomValues([]byte("another key"), rand.Reader)
	v, h, _ := rv.New()
	if other.Matches(v, h) {
		t.Fatal("hash does not depend on the key")
	}
	// A short source is an error, never a weak value.
	if _, _, err := NewRandomValues([]byte("k"), bytes.NewReader(make([]byte, 15))).New(); err == nil {
		t.Fatal("15 random bytes accepted")
	}
}

func TestFindCodeInText(t *testing.T) {
	rv := NewRandomValues([]byte("key"), rand.Reader)
	v, h, _ := rv.New()
	decoy, _, _ := rv.New()
	text := "Order 1\nDecoy " + decoy + "\nValidation code: " + v + "\nhttps://x/?dcvCode=" + v
	if got := rv.Find(text, h); got != v {
		t.Fatalf("Find = %q, want %q", got, v)
	}
	if got := rv.Find("no code here", h); got != "" {
		t.Fatalf("Find = %q", got)
	}
}

// docs/rules.md: a random value confirms for at most 30 days; the operator
// may shorten it (default 29).
func TestPolicyCheck(t *testing.T) {
	if err := DefaultPolicy.Check(); err != nil {
		t.Fatal(err)
	}
	if DefaultPolicy.CodeValidity != 29*24*time.Hour {
		t.Fatal("default validity is not 29 days")
	}
	for _, d := range []time.Duration{0, -time.Hour, 30*24*time.Hour + time.Second} {
		p := DefaultPolicy
		p.CodeValidity = d
		if p.Check() == nil {
			t.Errorf("validity %v accepted", d)
		}
	}
	p := DefaultPolicy
	p.CodeValidity = 30 * 24 * time.Hour
	if p.Check() != nil {
		t.Error("30 days refused")
	}
}

// docs/api.md §2 rule 7: a burst of 5 resends, then one per minute.
func TestResendLimitIsABurstThenARate(t *testing.T) {
	p := DefaultPolicy
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tat time.Time
	for i := range 5 {
		var ok bool
		tat, ok, _ = p.allowResend(tat, now)
		if !ok {
			t.Fatalf("resend %d of the burst refused", i+1)
		}
	}
	_, ok, next := p.allowResend(tat, now)
	if ok || !next.Equal(now.Add(time.Minute)) {
		t.Fatalf("sixth: ok=%v next=%v", ok, next)
	}
	_, ok, _ = p.allowResend(tat, now.Add(59*time.Second))
	if ok {
		t.Fatal("allowed before the minute")
	}
	tat, ok, _ = p.allowResend(tat, now.Add(time.Minute))
	if !ok {
		t.Fatal("refused after the minute")
	}
	// A long pause refills the whole burst, no more.
	later := now.Add(time.Hour)
	n := 0
	for {
		var ok bool
		if tat, ok, _ = p.allowResend(tat, later); !ok {
			break
		}
		n++
	}
	if n != 5 {
		t.Fatalf("after an hour %d resends allowed, want 5", n)
	}
}
