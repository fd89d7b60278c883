package dcv

import (
	"context"
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
// alike (Invalid on orderNumber).
func (s *Service) DomainStates(ctx context.Context, account model.Account, number int64) ([]DomainState, error) {
	d, err := s.Details(ctx, account.ID, number)
	if err != nil {
		return nil, err
	}
	// The newest sending and the newest attempt of each email.
	lastSent := map[int64]time.Time{}
	emailOf := map[int64]int64{} // delivery id -> email id
	queued := map[int64]bool{}   // email id -> has a delivery
	for _, dl := range d.Deliveries {
		emailOf[dl.ID] = dl.EmailID
		queued[dl.EmailID] = true
		if dl.Sent.After(lastSent[dl.EmailID]) {
			lastSent[dl.EmailID] = dl.Sent
		}
	}
	lastAttempt := map[int64]model.Attempt{} // email id -> newest attempt
	for _, a := range d.Attempts {
		lastAttempt[emailOf[a.DeliveryID]] = a
	}
	out := make([]DomainState, len(d.Domains))
	for i, dom := range d.Domains {
		st := DomainState{Name: dom.Name, Method: dom.Method, Validated: dom.Validated, Recipient: dom.Recipient}
		if id := dom.CurrentEmailID; id != 0 {
			st.LastSentAt = lastSent[id]
			if a, tried := lastAttempt[id]; tried {
				st.LastDelivery, st.LastReply = string(a.Outcome), ResellerReply(a.Outcome, a.Reply)
			} else if queued[id] {
				st.LastDelivery = string(model.DeliveryPending)
			}
		}
		out[i] = st
	}
	return out, nil
}
