package contacts

// Source says by which BR method an address qualifies as a recipient.
type Source string

const (
	// Constructed is BR 3.2.2.4.4: admin, administrator, hostmaster,
	// postmaster or webmaster at an ADN.
	Constructed Source = "constructed"
	// DNSTXT is BR 3.2.2.4.14: the RDATA of a TXT record at
	// _validation-contactemail.<ADN>.
	DNSTXT Source = "dns-txt"
	// DNSCAA is BR 3.2.2.4.13: a CAA contactemail property.
	DNSCAA Source = "dns-caa"
)

// BRSection names the Baseline Requirements section of a source, for the
// evidence trail.
func (s Source) BRSection() string {
	switch s {
	case Constructed:
		return "3.2.2.4.4"
	case DNSTXT:
		return "3.2.2.4.14"
	case DNSCAA:
		return "3.2.2.4.13"
	}
	return ""
}

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
