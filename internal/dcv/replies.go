package dcv

import (
	"regexp"

	"github.com/dcvmail/dcvmail/internal/model"
)

// RelayUnreachable is what a reseller is shown of a delivery attempt that
// failed on this side (no connection to the relay, a TLS or
// configuration error): the detail names the operator's hosts, ports and
// software, so it stays in the operator's log and `order show`.
const RelayUnreachable = "relay unreachable"

// remoteReply matches a mail server's own reply, as the outbox records it:
// an optional SMTP stage ("rcpt: ") and a three-digit reply code.
var remoteReply = regexp.MustCompile(`^(?:[a-z ]{1,20}: )?[2-5][0-9][0-9][ -]`)

// ResellerReply is the part of a recorded delivery reply that a reseller
// may see: a sent message's reply, or a remote mail server's reply as it
// was given; any other failure becomes RelayUnreachable.
func ResellerReply(outcome model.Outcome, reply string) string {
	if reply == "" || outcome == model.OutcomeSent || remoteReply.MatchString(reply) {
		return reply
	}
	return RelayUnreachable
}
