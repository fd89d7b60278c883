package dcv

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/model"
)

// ResendRequest is a parsed !ResendDCVEmail call.
type ResendRequest struct {
	Account         model.Account
	OrderNumber     int64  // 0 when not given
	BaseOrderNumber int64  // 0 when not given
	Recipient       string // normalized mailbox; "" when not given
	TemplateID      int64  // 0 when not given
}

// Resend carries out docs/api.md §2: it sends the order's DCV email
// again, to a newly chosen recipient or to the last one, and commits the
// state change and the outgoing message together.
func (s *Service) Resend(ctx context.Context, r ResendRequest) error {
	if r.Account.ReadOnly {
		return &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	err := s.store.Tx(ctx, func(tx model.Tx) error {
		state, err := s.resolveOrder(ctx, tx, r.Account.ID, r.OrderNumber, r.BaseOrderNumber)
		if err != nil {
			return err
		}
		order := state.Order
		awaiting, err := awaiting(state)
		if err != nil {
			return err
		}
		// Rule 3: a chosen address must have been offered to this account
		// within the window for a domain of this order that awaits validation.
		var chosen []recipient
		if r.Recipient != "" {
			if chosen, err = s.permittedDomains(ctx, tx, r.Account.ID, r.Recipient, awaiting, ItemDCVEmailAddress); err != nil {
				return err
			}
		}
		// Rule 5: a template given must exist and be open to the account.
		tmplID := order.TemplateID
		if r.TemplateID != 0 {
			if _, err := s.template(ctx, tx, r.TemplateID, r.Account.ID); err != nil {
				return err
			}
			tmplID = r.TemplateID
		}
		// Rule 4: without an address, resend what was last sent.
		var live []model.Email
		if r.Recipient == "" {
			if live, err = liveEmails(state, awaiting); err != nil {
				return err
			}
		}
		// Rule 7: the per-order limit, checked once the call is otherwise valid.
		now := s.clock.Now()
		tat, ok, next := s.policy.allowResend(order.ResendTAT, now)
		if !ok {
			return &Error{Kind: CannotResend, Detail: "resend limit reached; next resend allowed at " + next.UTC().Format("2006-01-02T15:04:05Z")}
		}
		if err := tx.SetOrderResend(ctx, order.Number, tmplID, tat); err != nil {
			return err
		}
		if r.Recipient != "" {
			return s.sendNew(ctx, tx, order, r.Recipient, chosen, tmplID)
		}
		for _, e := range live {
			if now.Before(e.Expires) && e.TemplateID == tmplID {
				// The identical message: same recipient, content and value.
				if err := s.enqueue(ctx, tx, e.ID, e.Recipient); err != nil {
					return err
				}
				continue
			}
			// Expired, or another template: a new email, a new value, same address.
			var to []recipient
			for _, d := range awaiting {
				if d.CurrentEmailID == e.ID {
					to = append(to, recipient{d, d.Source})
				}
			}
			if err := s.sendNew(ctx, tx, order, e.Recipient, to, tmplID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.enqueued()
	}
	return err
}

// resolveOrder finds the order a call names (rule 1), with its domains and
// live emails, locking its row. A missing order and another account's are
// refused alike.
func (s *Service) resolveOrder(ctx context.Context, tx model.Tx, accountID, number, base int64) (model.OrderState, error) {
	item := ItemOrderNumber
	if number == 0 {
		item = ItemBaseOrderNumber
		n, err := tx.NewestInChain(ctx, accountID, base)
		if errors.Is(err, model.ErrNotFound) {
			return model.OrderState{}, invalid(item, "no such order for this account")
		}
		if err != nil {
			return model.OrderState{}, err
		}
		number = n
	}
	state, err := tx.LockOrderState(ctx, accountID, number)
	if errors.Is(err, model.ErrNotFound) {
		return model.OrderState{}, invalid(item, "no such order for this account")
	}
	if err != nil {
		return model.OrderState{}, err
	}
	if base != 0 && state.BaseNumber != base {
		return model.OrderState{}, invalid(ItemBaseOrderNumber, "the order is not in this chain")
	}
	return state, nil
}

// awaiting lists the domains of an order that await email validation, or
// refuses with CannotResend when there are none (rule 2).
func awaiting(state model.OrderState) ([]model.Domain, error) {
	if state.Status != model.OrderActive {
		return nil, cannotResend("the order is " + string(state.Status))
	}
	var out []model.Domain
	for _, d := range state.Domains {
		if d.Awaiting() {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, cannotResend("no domain of the order awaits email validation")
	}
	return out, nil
}

// permittedDomains applies rule 3: mailbox must have been offered to the
// account within the window for one of the awaiting domains, else an
// Invalid refusal on item (the parameter that named mailbox); it returns
// every awaiting domain for which mailbox is a permitted recipient, with the
// BR method that permits it. AutoUpdateDCV passes the domains that are to
// await email validation after the call.
func (s *Service) permittedDomains(ctx context.Context, tx model.Tx, accountID int64, mailbox string, awaiting []model.Domain, item string) ([]recipient, error) {
	offers, err := tx.OffersOf(ctx, accountID, mailbox, s.clock.Now().Add(-s.policy.OfferWindow))
	if err != nil {
		return nil, err
	}
	offeredFor := func(fqdn string) bool {
		return slices.ContainsFunc(offers, func(o model.Offer) bool { return o.FQDN == fqdn })
	}
	if !slices.ContainsFunc(awaiting, func(d model.Domain) bool { return offeredFor(d.FQDN) }) {
		return nil, invalid(item, "the address was not offered to this account for a domain of this order in the last 24 hours")
	}
	var out []recipient
	for _, d := range awaiting {
		if contacts.IsConstructedFor(mailbox, d.FQDN) {
			out = append(out, recipient{d, contacts.Constructed})
			continue
		}
		// A DNS contact covers only the name it was found for.
		for _, o := range offers {
			if o.FQDN == d.FQDN && o.Source != contacts.Constructed {
				out = append(out, recipient{d, o.Source})
				break
			}
		}
	}
	return out, nil
}

// liveEmails lists the emails currently live for the awaiting domains (what
// was last sent for each), or refuses when none was ever sent (rule 4).
func liveEmails(state model.OrderState, awaiting []model.Domain) ([]model.Email, error) {
	var ids []int64
	for _, d := range awaiting {
		if d.CurrentEmailID != 0 && !slices.Contains(ids, d.CurrentEmailID) {
			ids = append(ids, d.CurrentEmailID)
		}
	}
	if len(ids) == 0 {
		return nil, cannotResend("no DCV email was ever sent for this order")
	}
	out := make([]model.Email, 0, len(ids))
	for _, id := range ids {
		e, ok := state.Live[id]
		if !ok {
			return nil, fmt.Errorf("dcv: order %d: live email %d is missing", state.Number, id)
		}
		out = append(out, e)
	}
	return out, nil
}
