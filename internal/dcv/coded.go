package dcv

import (
	"errors"
	"fmt"
)

// Coded is a refusal of the order calls that has an errorCode of its own
// (docs/api.md, orders): -15 credit, -20 rejected, -21 revoked, -22
// awaiting payment, -23/-26 being issued, -36 expired, -18 refunded. The
// Message is the exact errorMessage.
type Coded struct {
	Code    int
	Message string
	Detail  string
}

func (e *Coded) Error() string { return fmt.Sprintf("dcv: refused %d: %s", e.Code, e.Message) }

// AsCoded returns the Coded refusal in err, if it is one.
func AsCoded(err error) (*Coded, bool) {
	var e *Coded
	ok := errors.As(err, &e)
	return e, ok
}

// The order calls' own refusals (docs/sectigo-divergences.md lists the
// messages the vendor never published).
var (
	errNoCredit       = &Coded{Code: -15, Message: "Not enough credit!"}
	errRejected       = &Coded{Code: -20, Message: "The certificate request has already been rejected!"}
	errRevoked        = &Coded{Code: -21, Message: "The certificate has already been revoked!"}
	errRefunded       = &Coded{Code: -18, Message: "This order has already been refunded!"}
	errBeingIssued    = &Coded{Code: -26, Message: "The certificate is currently being issued!"}
	errBeingIssuedOld = &Coded{Code: -23, Message: "The certificate is currently being issued!"}
	errExpired        = &Coded{Code: -36, Message: "The certificate has already expired!"}
)
