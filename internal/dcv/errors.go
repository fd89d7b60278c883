// Package dcv is the domain of email Domain Control Validation: orders and
// the DCV state of their domains, who may receive a DCV email, random
// values, the rules of resending, and confirmation. It decides; package
// store keeps what it decides and package mail delivers the emails.
//
// It knows nothing of HTTP: its errors carry a Kind, which only package api
// turns into an errorCode.
package dcv

import (
	"errors"
	"fmt"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Kind classifies a refusal.
type Kind int

const (
	// Invalid is a parameter whose value is not acceptable: an order that
	// does not exist or is another account's, an address not permitted, a
	// template the account may not use. Item names the parameter.
	Invalid Kind = iota + 1
	// CannotResend is a resend with nothing to resend, or over the limit.
	CannotResend
	// Forbidden is an account without the right for the call.
	Forbidden
	// Missing is a parameter that the order's state makes necessary (the
	// domainName of an order of several domains). Item names it.
	Missing
)

// Error is a refusal with its kind, the offending parameter and a detail for
// people (no secrets, no internals).
type Error struct {
	Kind   Kind
	Item   string
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("dcv: refused (kind %d, item %q): %s", e.Kind, e.Item, e.Detail)
}

func invalid(item, detail string) error { return &Error{Kind: Invalid, Item: item, Detail: detail} }

func cannotResend(detail string) error { return &Error{Kind: CannotResend, Detail: detail} }

// AsError returns the refusal in err, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// The parameter names that refusals point at (docs/api.md).
const (
	ItemOrderNumber     = "orderNumber"
	ItemBaseOrderNumber = "baseOrderNumber"
	ItemDCVEmailAddress = "dcvEmailAddress"
	ItemDCVTemplateID   = "dcvTemplateID"
	ItemDomainName      = "domainName"
)

// BRSection names the Baseline Requirements section of a recipient's
// source ("" when none).
func BRSection(source model.Source) string {
	if source == "" {
		return ""
	}
	return "BR " + source.BRSection()
}
