package contacts_test

import (
	"context"
	"testing"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
)

// TestCheckCAA runs the CAA rules of RFC 8659 against the loopback DNS
// server: no record, a record naming us, one naming another CA, an
// issuer-critical unknown tag, issuewild for wildcards, and DNS off.
func TestCheckCAA(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t,
		`allowed.test. CAA 0 issue "dcvmail.test; account=1"`,
		`other.test. CAA 0 issue "letsencrypt.org"`,
		`critical.test. CAA 128 tbs "x"`,
		`critical.test. CAA 0 issue "dcvmail.test"`,
		`wild.test. CAA 0 issue "dcvmail.test"`,
		`wild.test. CAA 0 issuewild ";"`,
		`contact.test. CAA 0 contactemail "a@contact.test"`,
	)
	f := contacts.NewFinder(contacts.Config{Resolvers: []string{srv.Addr()}})
	ids := []string{"sectigo.com", "dcvmail.test"}
	for _, c := range []struct {
		name, want string
	}{
		{"www.none.test", contacts.CAAPermitted},
		{"www.allowed.test", contacts.CAAPermitted},
		{"other.test", contacts.CAAForbidden},
		{"sub.other.test", contacts.CAAForbidden},
		{"critical.test", contacts.CAAForbidden},
		{"wild.test", contacts.CAAPermitted},
		{"*.wild.test", contacts.CAAForbidden},
		{"contact.test", contacts.CAAPermitted},
	} {
		got := f.CheckCAA(context.Background(), c.name, ids)
		if got.Status != c.want {
			t.Errorf("%s: %+v, want %s", c.name, got, c.want)
		}
	}
	off := contacts.NewFinder(contacts.Config{})
	if got := off.CheckCAA(context.Background(), "other.test", ids); got.Status != contacts.CAAUnchecked {
		t.Errorf("DNS off: %+v", got)
	}
	srv.Fail("failing.test.", 2)
	if got := f.CheckCAA(context.Background(), "failing.test", ids); got.Status != contacts.CAAFailed {
		t.Errorf("SERVFAIL: %+v", got)
	}
}
