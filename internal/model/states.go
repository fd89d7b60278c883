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
