package model

import "time"

// Order is a certificate order of an account.
type Order struct {
	Number     int64
	AccountID  int64
	BaseNumber int64 // the first order of its chain of reissues and renewals
	Status     OrderStatus
	TemplateID int64 // last used; 0 is the built-in template
	// ResendTAT is the resend limiter's theoretical arrival time (GCRA).
	ResendTAT time.Time
	Created   time.Time
}

// Domain is one domain of an order and its DCV state.
type Domain struct {
	OrderNumber      int64
	Position         int
	Name             string // as ordered, e.g. *.example.com
	FQDN             string // normalized
	Method           Method
	Recipient        string // current DCV email address, "" when none
	Source           Source // BR method by which Recipient qualifies
	CurrentEmailID   int64  // the email whose random value is live for it; 0 none
	Validated        time.Time
	ValidatedEmailID int64
}

// OrderState is an order with its domains and the emails live for them:
// what ResendDCVEmail and AutoUpdateDCV decide on, read in one statement.
type OrderState struct {
	Order
	// Product is the order's Terms.Product, read with it: 0 for an order
	// the operator made, which has no certificate to issue.
	Product int64
	Domains []Domain // in order of position
	// Live holds, by id, the email each domain's CurrentEmailID names,
	// without its message (Subject, Text and HTML are empty).
	Live map[int64]Email
}

// Terms are what an order placed through the API bought (migration
// 00011). Orders the operator made have Product 0.
type Terms struct {
	Product            int64
	Days               int   // validity asked for (0: the most)
	CostCents          int64 // charged to the account's credit
	UniqueValue        string
	PaymentPending     bool // the account's customer pays
	Test               bool
	ForeignOrderNumber string
	OrgValidated       time.Time // OV/EV: zero until validated
	CAAStatus          string    // the last CAA check's outcome, "" before any
	Refunded           time.Time
}
