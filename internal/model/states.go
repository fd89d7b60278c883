package model

// OrderStatus is the status of an order.
type OrderStatus string

// Order statuses.
const (
	OrderActive    OrderStatus = "active"
	OrderCancelled OrderStatus = "cancelled"
	OrderRejected  OrderStatus = "rejected"
)

// Method is how a domain's control is validated (AutoUpdateDCV's
// newMethod values).
type Method string

// DCV methods of a domain.
const (
	MethodEmail        Method = "EMAIL"
	MethodHTTPCSRHash  Method = "HTTP_CSR_HASH"
	MethodHTTPSCSRHash Method = "HTTPS_CSR_HASH"
	MethodCNAMECSRHash Method = "CNAME_CSR_HASH"
)

// Known reports whether m is one of the methods above.
func (m Method) Known() bool {
	switch m {
	case MethodEmail, MethodHTTPCSRHash, MethodHTTPSCSRHash, MethodCNAMECSRHash:
		return true
	}
	return false
}

// DeliveryState is where a DCV email's delivery stands in the outbox.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending DeliveryState = "pending"
	DeliverySent    DeliveryState = "sent"
	DeliveryFailed  DeliveryState = "failed"
)

// Outcome is what one delivery attempt came to.
type Outcome string

// Attempt outcomes.
const (
	OutcomeSent   Outcome = "sent"
	OutcomeRetry  Outcome = "retry"  // tried again later
	OutcomeFailed Outcome = "failed" // given up
)

// CertState is where a certificate request stands.
type CertState string

// Certificate states.
const (
	CertPending  CertState = "pending"  // awaiting DCV, organization validation or CAA
	CertIssued   CertState = "issued"   // signed; Serial and DER are set
	CertRejected CertState = "rejected" // will never be issued
)

// Awaiting reports whether the domain still awaits email validation.
func (d Domain) Awaiting() bool { return d.Method == MethodEmail && d.Validated.IsZero() }

// Source says by which Baseline Requirements method an address qualifies
// as a DCV email's recipient.
type Source string

// Sources of recipients.
const (
	// SourceConstructed is BR 3.2.2.4.4: admin, administrator, hostmaster,
	// postmaster or webmaster at an ADN.
	SourceConstructed Source = "constructed"
	// SourceDNSTXT is BR 3.2.2.4.14: the RDATA of a TXT record at
	// _validation-contactemail.<ADN>.
	SourceDNSTXT Source = "dns-txt"
	// SourceDNSCAA is BR 3.2.2.4.13: a CAA contactemail property.
	SourceDNSCAA Source = "dns-caa"
)

// BRSection names the Baseline Requirements section of a source, for the
// evidence trail; "" for an unknown source.
func (s Source) BRSection() string {
	switch s {
	case SourceConstructed:
		return "3.2.2.4.4"
	case SourceDNSTXT:
		return "3.2.2.4.14"
	case SourceDNSCAA:
		return "3.2.2.4.13"
	}
	return ""
}
