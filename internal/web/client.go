package web

import "github.com/dcvmail/dcvmail/internal/origin"

// clientIP is the approver's address as evidence: the client's IP as far as
// trusted proxies tell, or the raw peer when it cannot be read.
func clientIP(o origin.Origin) string {
	if o.IP.IsValid() {
		return o.IP.String()
	}
	return o.Peer
}
