package contacts

import "github.com/dcvmail/dcvmail/internal/model"

// Source says by which BR method an address qualifies as a recipient (the
// model's type: the store keeps it with the offer and the domain).
type Source = model.Source

// The sources, as package contacts finds them.
const (
	Constructed = model.SourceConstructed // BR 3.2.2.4.4
	DNSTXT      = model.SourceDNSTXT      // BR 3.2.2.4.14
	DNSCAA      = model.SourceDNSCAA      // BR 3.2.2.4.13
)

// Address is one permitted recipient and why it is permitted.
type Address struct {
	Mailbox string // normalized: domain in lowercase A-labels
	Source  Source
	ADN     string // the ADN the address validates (for CAA: the FQDN)
	Level   int    // for Constructed: 2 for the Base Domain Name, and up
}

// List is everything GetDCVEmailAddressList offers for one FQDN.
type List struct {
	Domain      string    // the normalized FQDN
	Constructed []Address // by level, then in ConstructedLocalParts order
	TXT         []Address
	CAA         []Address
	Warnings    []string // lookups that failed; their lists stay empty
}

// All returns every address of the list, constructed ones first.
func (l List) All() []Address {
	out := make([]Address, 0, len(l.Constructed)+len(l.TXT)+len(l.CAA))
	out = append(out, l.Constructed...)
	out = append(out, l.TXT...)
	return append(out, l.CAA...)
}
