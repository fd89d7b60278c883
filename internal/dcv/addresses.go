package dcv

import (
	"context"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/store"
)

// AddressList carries out GetDCVEmailAddressList for a normalized FQDN: it
// finds every permitted recipient and records each, with its source, as
// offered to the account now, which is what the 24-hour rule of
// ResendDCVEmail checks.
func (s *Service) AddressList(ctx context.Context, account store.Account, fqdn string, product int64) (contacts.List, error) {
	list, err := s.finder.Find(ctx, fqdn)
	if err != nil {
		return contacts.List{}, invalid(ItemDomainName, "not a name that can be validated")
	}
	now := s.clock.Now()
	all := list.All()
	offers := make([]store.Offer, len(all))
	for i, a := range all {
		offers[i] = store.Offer{
			AccountID: account.ID,
			FQDN:      fqdn,
			Mailbox:   a.Mailbox,
			Source:    string(a.Source),
			ADN:       a.ADN,
			Product:   product,
			At:        now,
		}
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error { return tx.RecordOffers(ctx, offers) })
	return list, err
}
