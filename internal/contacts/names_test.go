package contacts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// BR 3.2.2.4.4: a child mailbox never validates its parent; a mailbox at an
// ADN validates that ADN and the names below it, and nothing else.
func TestBR32244ChildMailboxNeverValidatesParent(t *testing.T) {
	tests := []struct {
		mailbox, fqdn string
		want          bool
	}{
		{"postmaster@www.example.com", "example.com", false},
		{"admin@a.b.example.com", "b.example.com", false},
		{"postmaster@example.com", "www.example.com", true},
		{"admin@example.com", "example.com", true},
		{"webmaster@b.example.com", "a.b.example.com", true},
		{"hostmaster@example.com.evil.net", "example.com", false},
		{"admin@other.org", "example.com", false},      // a contact's own domain is not validated
		{"root@example.com", "example.com", false},     // not one of the five local parts
		{"Admin@example.com", "example.com", false},    // local parts are exact
		{"admin@co.uk", "example.co.uk", false},        // a public suffix is never an ADN
		{"admin@example.com", "notexample.com", false}, // label boundary
		{"administrator", "example.com", false},        // no domain
		{"admin@www.example.com@example.com", "example.com", false},
	}
	for _, tt := range tests {
		if got := IsConstructedFor(tt.mailbox, tt.fqdn); got != tt.want {
			t.Errorf("IsConstructedFor(%q, %q) = %v, want %v", tt.mailbox, tt.fqdn, got, tt.want)
		}
	}
	if _, err := NormalizeMailbox("admin@www.example.com@example.com"); err == nil {
		t.Error("NormalizeMailbox accepted a mailbox with two @")
	}
}

// docs/rules.md, ADN: names are removed from the left down to and including
// the Base Domain Name, never to the public suffix (a.b.example.co.uk never
// yields co.uk).
func TestADNNeverPublicSuffix(t *testing.T) {
	adns, err := AuthorizationDomainNames("a.b.example.co.uk")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"example.co.uk", "b.example.co.uk", "a.b.example.co.uk"}
	if !slices.Equal(adns, want) {
		t.Fatalf("ADNs = %q, want %q", adns, want)
	}
	got, err := ConstructedAddresses("a.b.example.co.uk")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 15 {
		t.Errorf("got %d constructed addresses, want 15", len(got))
	}
	for _, a := range got {
		if strings.HasSuffix(a.Mailbox, "@co.uk") || a.ADN == "co.uk" || a.ADN == "uk" {
			t.Errorf("constructed address at a public suffix: %+v", a)
		}
	}
	if got[0].Mailbox != "admin@example.co.uk" || got[0].Level != 2 || got[14].Level != 4 {
		t.Errorf("order or level wrong: first %+v, last %+v", got[0], got[14])
	}
	// Private-section suffixes of the PSL are not public suffixes here.
	if bdn, err := BaseDomainName("x.user.github.io"); err != nil || bdn != "github.io" {
		t.Errorf("BaseDomainName(x.user.github.io) = %q, %v; want github.io (ICANN section only)", bdn, err)
	}
}

// docs/api.md §3 and docs/rules.md: a leading "*." is removed first, so a wildcard
// has the ADNs of the name below it.
func TestWildcard(t *testing.T) {
	for _, in := range []string{"*.example.com", "*.EXAMPLE.com", "*.example.com."} {
		got, err := Normalize(in)
		if err != nil || got != "example.com" {
			t.Errorf("Normalize(%q) = %q, %v; want example.com", in, got, err)
		}
	}
	got, err := Normalize("*.www.example.co.uk")
	if err != nil || got != "www.example.co.uk" {
		t.Errorf("Normalize(*.www.example.co.uk) = %q, %v", got, err)
	}
}

// docs/api.md §3: an IDN is converted to A-labels (names and mailbox domains).
func TestIDN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"*.www.bücher.de", "www.xn--bcher-kva.de"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"例え.jp", "xn--r8jz45g.jp"},
	}
	for _, tt := range tests {
		if got, err := Normalize(tt.in); err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := NormalizeMailbox("Info@Bücher.example"); err != nil || got != "Info@xn--bcher-kva.example" {
		t.Errorf("NormalizeMailbox = %q, %v", got, err)
	}
}

// docs/api.md §3: invalid names, IP addresses and bare public suffixes are
// refused (-4 on domainName); Find refuses them too.
func TestInvalidNames(t *testing.T) {
	f := NewFinder(Config{})
	for _, in := range []string{
		"",
		strings.Repeat("a", 296) + ".com",
		strings.Repeat("abcdefghi.", 30) + "com",
		strings.Repeat("a", 64) + ".com",
		"exa mple.com",
		"-x.com",
		"x-.com",
		"example..com",
		".example.com",
		"a_b.example.com",
		"1.2.3.4",
		"1.2.3.4.",
		"[::1]",
		"::1",
		"com",
		"*.com",
		"co.uk",
		"*.co.uk",
		"*.*.example.com",
		"www.*.example.com",
		"exa\x00mple.com",
		"example.com\r\n",
		"example.com\nbcc.example.com",
		"example.com\x7f",
		"https://example.com",
		"user@example.com",
	} {
		if got, err := Normalize(in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalidName", in, got, err)
		}
		if _, err := f.Find(context.Background(), in); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Find(%q) error = %v; want ErrInvalidName", in, err)
		}
	}
	// Find takes normalized names only.
	if _, err := f.Find(context.Background(), "Example.com"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Find(Example.com) error = %v; want ErrInvalidName", err)
	}
}

// docs/rules.md: a TXT or CAA value must be one bare valid address.
func TestNormalizeMailbox(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dns@example.com", "dns@example.com"},
		{"DNS@Example.COM", "DNS@example.com"},
		{"first.last@sub.example.co.uk", "first.last@sub.example.co.uk"},
		{" dns@example.com", ""},
		{"dns@example.com ", ""},
		{"<dns@example.com>", ""},
		{"DNS <dns@example.com>", ""},
		{"dns@example.com, x@example.com", ""},
		{"dns@example.com x@example.com", ""},
		{"mailto:dns@example.com", ""},
		{"dns@example.com\r\nBcc: x@example.com", ""},
		{"dns@[192.0.2.1]", ""},
		{"dns@localhost", ""},
		{"dns@1.2.3.4", ""},
		{`"a b"@example.com`, ""},
		{"(comment)dns@example.com", ""},
		{"@example.com", ""},
		{"dns@", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeMailbox(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidMailbox) {
				t.Errorf("NormalizeMailbox(%q) = %q, %v; want ErrInvalidMailbox", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeMailbox(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
