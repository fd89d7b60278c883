package dcv

import (
	"context"
	"time"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/model"
)

// AddressList carries out GetDCVEmailAddressList for a normalized FQDN: it
// finds every permitted recipient and records each, with its source, as
// offered to the account now, which is what the 24-hour rule of
// ResendDCVEmail checks.
func (s *Service) AddressList(ctx context.Context, account model.Account, fqdn string, product int64) (contacts.List, error) {
	list, err := s.finder.Find(ctx, fqdn)
	if err != nil {
		return contacts.List{}, invalid(ItemDomainName, "not a name that can be validated")
	}
	now := s.clock.Now()
	all := list.All()
	offers := make([]model.Offer, len(all))
	for i, a := range all {
		offers[i] = model.Offer{
			AccountID: account.ID,
			FQDN:      fqdn,
			Mailbox:   a.Mailbox,
			Source:    a.Source,
			ADN:       a.ADN,
			Product:   product,
			At:        now,
		}
	}
	if err = s.store.Tx(ctx, func(tx model.Tx) error { return tx.RecordOffers(ctx, offers) }); err != nil {
		return list, err
	}
	s.pruneOffers(ctx, now)
	return list, nil
}

// pruneOffers deletes offers past the offer window, at most once a minute
// per node (again at once while a full batch came back), in statements of
// their own: address_offers holds one row per (account, name, address)
// offered within the window, and no more. A failure only delays pruning.
func (s *Service) pruneOffers(ctx context.Context, now time.Time) {
	prev := s.lastOfferPrune.Load()
	if now.UnixMilli()-prev < time.Minute.Milliseconds() || !s.lastOfferPrune.CompareAndSwap(prev, now.UnixMilli()) {
		return
	}
	n, err := s.store.PruneOffers(ctx, now.Add(-s.policy.OfferWindow))
	if err == nil && n == 1000 {
		s.lastOfferPrune.Store(0)
	}
}
