package dcv

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/model"
)

// NewOrder is an order an operator creates (`dcvmail order add`).
type NewOrder struct {
	Login   string
	Domains []string
	// BaseOrder chains a reissue or renewal to an earlier order of the same
	// account; 0 starts a new chain.
	BaseOrder int64
	// Number is the order number to use; 0 allocates the next one.
	Number int64
	// DCVEmail, when set, is sent the first DCV email at once. It must be a
	// permitted recipient for at least one of the domains (found now; the
	// 24-hour rule does not apply to the operator).
	DCVEmail string
}

// CreateOrder creates an order and, with DCVEmail, its first DCV email.
func (s *Service) CreateOrder(ctx context.Context, n NewOrder) (int64, error) {
	if len(n.Domains) == 0 {
		return 0, badOrder("an order needs at least one domain")
	}
	domains := make([]model.Domain, len(n.Domains))
	for i, name := range n.Domains {
		fqdn, err := contacts.Normalize(name)
		if err != nil {
			return 0, badOrder("domain %q: not a name that can be validated", name)
		}
		domains[i] = model.Domain{Position: i + 1, Name: name, FQDN: fqdn, Method: model.MethodEmail}
	}
	var mailbox string
	var to []recipient
	if n.DCVEmail != "" {
		var err error
		if mailbox, err = contacts.NormalizeMailbox(n.DCVEmail); err != nil {
			return 0, badOrder("dcv email %q: not one valid mailbox", n.DCVEmail)
		}
		if to, err = s.recipientsFor(ctx, mailbox, domains); err != nil {
			return 0, err
		}
	}
	account, err := s.store.AccountByLogin(ctx, n.Login)
	if errors.Is(err, model.ErrNotFound) {
		return 0, badOrder("no account %q", n.Login)
	} else if err != nil {
		return 0, err
	}
	number := n.Number
	err = s.store.Tx(ctx, func(tx model.Tx) error {
		if number == 0 {
			if number, err = tx.NextOrderNumber(ctx); err != nil {
				return err
			}
		}
		base := number
		if n.BaseOrder != 0 {
			first, err := tx.Order(ctx, account.ID, n.BaseOrder)
			if errors.Is(err, model.ErrNotFound) {
				return badOrder("no order %d in account %q", n.BaseOrder, n.Login)
			} else if err != nil {
				return err
			}
			base = first.BaseNumber
		}
		order := model.Order{Number: number, AccountID: account.ID, BaseNumber: base, Status: model.OrderActive, Created: s.clock.Now()}
		if err := tx.CreateOrder(ctx, order, domains); err != nil {
			if errors.Is(err, model.ErrExists) {
				return fmt.Errorf("order %d: %w", number, model.ErrExists)
			}
			return err
		}
		if mailbox == "" {
			return nil
		}
		return s.sendNew(ctx, tx, order, mailbox, to, 0)
	})
	if err != nil {
		return 0, err
	}
	if mailbox != "" {
		s.enqueued()
	}
	return number, nil
}

// recipientsFor is the operator's check of a first recipient: the domains
// for which mailbox is a constructed address or a DNS contact found now.
func (s *Service) recipientsFor(ctx context.Context, mailbox string, domains []model.Domain) ([]recipient, error) {
	var to []recipient
	for _, d := range domains {
		if contacts.IsConstructedFor(mailbox, d.FQDN) {
			to = append(to, recipient{d, contacts.Constructed})
			continue
		}
		list, err := s.finder.Find(ctx, d.FQDN)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(list.All(), func(a contacts.Address) bool { return a.Mailbox == mailbox })
		if i >= 0 {
			to = append(to, recipient{d, list.All()[i].Source})
		}
	}
	if len(to) == 0 {
		return nil, badOrder("%s is not a permitted recipient for any domain of the order (BR 3.2.2.4.4, .13, .14)", mailbox)
	}
	return to, nil
}

// OrderDetails is everything known of an order, for `dcvmail order show`,
// GetMDCDomainDetails and the evidence trail.
type OrderDetails struct {
	Order         model.Order
	Account       model.Account
	Domains       []model.Domain
	Emails        []model.Email
	Deliveries    []model.Delivery
	Attempts      []model.Attempt
	Confirmations []model.Confirmation
	// Terms and Certificates: what an API order bought and its
	// certificates (none for the operator's orders).
	Terms        model.Terms
	Certificates []model.Certificate
}

// Details reads an order with its domains, emails and deliveries. With
// accountID 0 any account's order is read (operator commands).
func (s *Service) Details(ctx context.Context, accountID, number int64) (OrderDetails, error) {
	var d OrderDetails
	var err error
	if accountID == 0 {
		d.Order, err = s.store.OrderByNumber(ctx, number)
	} else {
		d.Order, err = s.store.Order(ctx, accountID, number)
	}
	if errors.Is(err, model.ErrNotFound) {
		return d, invalid(ItemOrderNumber, "no such order for this account")
	} else if err != nil {
		return d, err
	}
	if d.Account, err = s.store.AccountByID(ctx, d.Order.AccountID); err != nil {
		return d, err
	}
	if d.Domains, err = s.store.Domains(ctx, number); err != nil {
		return d, err
	}
	if d.Emails, err = s.store.EmailsOfOrder(ctx, number); err != nil {
		return d, err
	}
	if d.Deliveries, err = s.store.DeliveriesOfOrder(ctx, number); err != nil {
		return d, err
	}
	if d.Attempts, err = s.store.AttemptsOfOrder(ctx, number); err != nil {
		return d, err
	}
	if d.Confirmations, err = s.store.ConfirmationsOfOrder(ctx, number); err != nil {
		return d, err
	}
	if d.Terms, err = s.store.TermsOf(ctx, number); err != nil {
		return d, err
	}
	d.Certificates, err = s.store.CertificatesOfOrder(ctx, number)
	return d, err
}
