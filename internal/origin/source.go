package origin

import "net/netip"

// Source is what the defences against guessing count a client as: an IPv4
// address, or the /64 of an IPv6 address (one host commonly holds a whole
// /64, so counting single IPv6 addresses would count nothing). ok is false
// for an invalid addr.
func Source(addr netip.Addr) (string, bool) {
	if !addr.IsValid() {
		return "", false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String(), true
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return "", false
	}
	return p.String(), true
}
