package dcv

import (
	"testing"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Issue 16, item 8: resellers see a remote server's reply, never a local
// failure's detail.
func TestResellerReply(t *testing.T) {
	for _, tc := range []struct {
		outcome     model.Outcome
		reply, want string
	}{
		{"retry", "smtp: connect: dial tcp 127.0.0.1:19026: connect: connection refused", RelayUnreachable},
		{"failed", "tls: failed to verify certificate: x509: certificate signed by unknown authority", RelayUnreachable},
		{"retry", "rcpt: 451 4.7.1 greylisted, try again", "rcpt: 451 4.7.1 greylisted, try again"},
		{"failed", "550 5.1.1 no such user", "550 5.1.1 no such user"},
		{"sent", "250 2.0.0 Ok: queued as 1234", "250 2.0.0 Ok: queued as 1234"},
		{"sent", "captured by the built-in mailbox", "captured by the built-in mailbox"},
		{"pending", "", ""},
	} {
		if got := ResellerReply(tc.outcome, tc.reply); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.outcome, tc.reply, got, tc.want)
		}
	}
}
