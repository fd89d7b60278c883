package dcv

import (
	"context"
	"errors"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// DomainState is the DCV state of one domain of an order, for
// GetMDCDomainDetails (docs/api.md §4).
type DomainState struct {
	Name      string // as ordered, e.g. *.example.com
	Method    model.Method
	Validated time.Time
	// Recipient is the address of the domain's live DCV email ("" when
	// none).
	Recipient string
	// LastSentAt is when the live email was last handed to a mail server
	// (zero when never).
	LastSentAt time.Time
	// LastDelivery is the outcome of the last attempt to deliver the live
	// email: sent, retry or failed; pending when it is queued and not yet
	// tried; "" when there is no live email or it was never queued. LastReply is the mail server's
	// answer to that attempt, or RelayUnreachable for a failure on this side (ResellerReply).
	LastDelivery string
	LastReply    string
}

// DomainStates reads the DCV state of every domain of an order of the
// account, as ordered. A missing order and another account's are refused
// alike (Invalid on orderNumber). It reads the order's domains and a
// summary of their live emails' deliveries in one statement, never a
// message: resellers poll it.
func (s *Service) DomainStates(ctx context.Context, account model.Account, number int64) ([]DomainState, error) {
	domains, sendings, err := s.store.OrderDeliveries(ctx, account.ID, number)
	if errors.Is(err, model.ErrNotFound) {
		return nil, invalid(ItemOrderNumber, "no such order for this account")
	} else if err != nil {
		return nil, err
	}
	out := make([]DomainState, len(domains))
	for i, dom := range domains {
		st := DomainState{Name: dom.Name, Method: dom.Method, Validated: dom.Validated, Recipient: dom.Recipient}
		if sg, queued := sendings[dom.CurrentEmailID]; dom.CurrentEmailID != 0 && queued {
			st.LastSentAt = sg.LastSent
			if a := sg.Last; a.DeliveryID != 0 {
				st.LastDelivery, st.LastReply = string(a.Outcome), ResellerReply(a.Outcome, a.Reply)
			} else {
				st.LastDelivery = string(model.DeliveryPending)
			}
		}
		out[i] = st
	}
	return out, nil
}
