package dcv

import (
	"context"
	"slices"
	"strings"

	"github.com/dcvmail/dcvmail/internal/model"
)

// The parameters of AutoUpdateDCV that its refusals point at.
const (
	ItemDomainNames          = "domainNames"
	ItemNewDCVEmailAddress   = "newDCVEmailAddress"
	ItemNewDCVEmailAddresses = "newDCVEmailAddresses"
)

// MethodChange is one domain's new DCV method in an AutoUpdateDCV call.
type MethodChange struct {
	// Domain names a domain of the order as the client wrote it, normalized
	// (lowercase, A-labels) with a leading "*." kept; "" stands for the
	// only domain of a single-domain order.
	Domain string
	Method model.Method
	// Mailbox is the normalized recipient, with model.MethodEmail only.
	Mailbox string
}

// AutoUpdateRequest is a parsed !AutoUpdateDCV call.
type AutoUpdateRequest struct {
	Account         model.Account
	OrderNumber     int64 // 0 when not given
	BaseOrderNumber int64 // 0 when not given
	Changes         []MethodChange
	// Plural tells that the changes came as the lists domainNames,
	// newMethods and newDCVEmailAddresses (refusals name those).
	Plural     bool
	TemplateID int64 // 0 when not given
}

// AutoUpdate carries out docs/api.md §5: it switches domains of an order
// between email and the CSR-hash methods. A domain switched to EMAIL gets a
// new DCV email with a new random value, under the rules of ResendDCVEmail
// (the address must have been offered to the account within the window and
// be a permitted recipient for that domain; the per-order resend limit
// applies). Other methods are recorded only: dcvmail performs no HTTP or
// DNS checks. Everything commits together or not at all.
func (s *Service) AutoUpdate(ctx context.Context, r AutoUpdateRequest) error {
	if r.Account.ReadOnly {
		return &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	domainItem, mailboxItem := ItemDomainName, ItemNewDCVEmailAddress
	if r.Plural {
		domainItem, mailboxItem = ItemDomainNames, ItemNewDCVEmailAddresses
	}
	sent := false
	err := s.store.Tx(ctx, func(tx model.Tx) error {
		state, err := s.resolveOrder(ctx, tx, r.Account.ID, r.OrderNumber, r.BaseOrderNumber)
		if err != nil {
			return err
		}
		order, domains := state.Order, state.Domains
		if order.Status != model.OrderActive {
			item := ItemOrderNumber
			if r.OrderNumber == 0 {
				item = ItemBaseOrderNumber
			}
			return invalid(item, "the order is "+string(order.Status)+"; its DCV cannot change")
		}
		targets, err := matchDomains(domains, r.Changes, domainItem)
		if err != nil {
			return err
		}
		// The domains that await validation once the call is done: the
		// 24-hour rule looks for an offer for one of them.
		var unvalidated []model.Domain
		for _, d := range domains {
			if d.Validated.IsZero() {
				unvalidated = append(unvalidated, d)
			}
		}
		// New emails, one per address, each covering the domains that
		// switch to it.
		var mailboxes []string
		to := map[string][]recipient{}
		for i, c := range r.Changes {
			if c.Method != model.MethodEmail {
				continue
			}
			permitted, err := s.permittedDomains(ctx, tx, r.Account.ID, c.Mailbox, unvalidated, mailboxItem)
			if err != nil {
				return err
			}
			j := slices.IndexFunc(permitted, func(p recipient) bool { return p.domain.Position == targets[i].Position })
			if j < 0 {
				return invalid(mailboxItem, "the address is not a permitted recipient for "+targets[i].Name+" (BR 3.2.2.4.4, .13, .14)")
			}
			if _, seen := to[c.Mailbox]; !seen {
				mailboxes = append(mailboxes, c.Mailbox)
			}
			to[c.Mailbox] = append(to[c.Mailbox], permitted[j])
		}
		tmplID := order.TemplateID
		if r.TemplateID != 0 {
			if _, err := s.template(ctx, tx, r.TemplateID, r.Account.ID); err != nil {
				return err
			}
			tmplID = r.TemplateID
		}
		if len(mailboxes) > 0 {
			// The resend limit protects recipients from floods whichever
			// call sends the email.
			tat, ok, next := s.policy.allowResend(order.ResendTAT, s.clock.Now())
			if !ok {
				return &Error{Kind: CannotResend, Detail: "resend limit reached; next DCV email allowed at " + next.UTC().Format("2006-01-02T15:04:05Z")}
			}
			if err := tx.SetOrderResend(ctx, order.Number, tmplID, tat); err != nil {
				return err
			}
		}
		// Record every method; a domain leaving EMAIL loses its live email,
		// so its earlier random value stops being accepted.
		for i, c := range r.Changes {
			if err := tx.SetDomainMethod(ctx, order.Number, targets[i].Position, c.Method); err != nil {
				return err
			}
		}
		for _, m := range mailboxes {
			if err := s.sendNew(ctx, tx, order, m, to[m], tmplID); err != nil {
				return err
			}
		}
		sent = len(mailboxes) > 0
		return nil
	})
	if err == nil && sent {
		s.enqueued()
	}
	return err
}

// matchDomains finds the domain of the order that each change names, in
// the changes' order. Names compare after normalization, a leading "*."
// included, so that example.com and *.example.com stay apart.
func matchDomains(domains []model.Domain, changes []MethodChange, item string) ([]model.Domain, error) {
	out := make([]model.Domain, len(changes))
	for i, c := range changes {
		j := 0
		if c.Domain == "" {
			if len(domains) != 1 {
				return nil, &Error{Kind: Missing, Item: ItemDomainName,
					Detail: "the order has several domains; name one with domainName, or several with domainNames"}
			}
		} else if j = slices.IndexFunc(domains, func(d model.Domain) bool { return domainKey(d) == c.Domain }); j < 0 {
			return nil, invalid(item, c.Domain+" is not a domain of this order")
		}
		d := domains[j]
		if slices.ContainsFunc(out[:i], func(o model.Domain) bool { return o.Position == d.Position }) {
			return nil, invalid(item, d.Name+" is named twice")
		}
		if !d.Validated.IsZero() {
			return nil, invalid(item, d.Name+" is validated already")
		}
		out[i] = d
	}
	return out, nil
}

// domainKey is how AutoUpdateDCV names a domain of an order: its normalized
// FQDN with the leading "*." of a wildcard kept.
func domainKey(d model.Domain) string {
	if strings.HasPrefix(d.Name, "*.") {
		return "*." + d.FQDN
	}
	return d.FQDN
}
