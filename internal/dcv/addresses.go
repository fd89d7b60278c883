package dcv

import (
	"context"
	"sync/atomic"
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
	if err = s.store.RecordOffers(ctx, offers); err != nil {
		return list, err
	}
	s.pruneOffers(ctx, now)
	return list, nil
}

// pruneOffers deletes offers past the offer window, at most once a minute
// per node (again at once while a full batch came back), in statements of
// their own: address_offers holds one row per (account, name, address)
// offered within the window or the hour before it (the store prunes by
// whole hours), and no more. The same statements keep the hours by which
// the store finds them up to date (store.PruneOffers). A failure only
// delays pruning.
func (s *Service) pruneOffers(ctx context.Context, now time.Time) {
	if !s.offerPrune.take(now, time.Minute) {
		return
	}
	n, err := s.store.PruneOffers(ctx, now.Add(-s.policy.OfferWindow))
	if err == nil && n >= 1000 {
		s.offerPrune.again()
	}
}

// pruneCodeAttempts deletes wrong-code counts past their window, at most
// once a second per node (again at once while a full batch came back), in
// a statement of its own, outside the transaction that holds a source's
// counts, so that it never waits on a lock. A failure leaves counts over,
// which is harmless: a later call prunes them.
func (s *Service) pruneCodeAttempts(ctx context.Context, now time.Time) {
	if !s.codePrune.take(now, time.Second) {
		return
	}
	n, err := s.store.PruneCodeAttempts(ctx, now.Add(-CodeAttemptWindow))
	if err == nil && n == 100 {
		s.codePrune.again()
	}
}

// throttle lets a housekeeping statement run at most once an interval on
// this node.
type throttle struct{ last atomic.Int64 } // Unix ms of the last run

// take reports whether the statement may run at now, and if so records it.
func (t *throttle) take(now time.Time, every time.Duration) bool {
	prev := t.last.Load()
	return now.UnixMilli()-prev >= every.Milliseconds() && t.last.CompareAndSwap(prev, now.UnixMilli())
}

// again lets the next call run at once (a full batch came back).
func (t *throttle) again() { t.last.Store(0) }
