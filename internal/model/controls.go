package model

import "time"

// AccountTerms are an account's commercial terms.
type AccountTerms struct {
	// CreditCents is the credit balance in cents; nil is unlimited.
	CreditCents  *int64
	CustomerPays bool
}

// Evidence is what validated an order's domains and organization, beside
// the email confirmations.
type Evidence struct {
	ValidatedBy    map[int]string // by domain position; "" for email
	OrgValidated   time.Time      // zero: not validated
	OrgValidatedBy string
}

// FaultRule is a stored fault rule: its JSON as the control API took it.
type FaultRule struct {
	ID      int64
	Rule    string
	Times   int // 0: until deleted
	Fired   int
	Created time.Time
}

// ValidatedByControl is the evidence a test control leaves.
const ValidatedByControl = "test-control"
