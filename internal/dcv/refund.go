package dcv

import (
	"context"
	"errors"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/model"
)

// RefundWindow is how long after ordering a refund is allowed.
const RefundWindow = 30 * 24 * time.Hour

// Refund carries out AutoRefund (docs/api.md): within RefundWindow of the
// order, for single-domain and wildcard products, the order is cancelled,
// an issued certificate revoked (cessationOfOperation), a pending request
// rejected and the price given back to the account's credit, together.
func (s *Service) Refund(ctx context.Context, account model.Account, number int64) error {
	if s.orders == nil {
		return errNoOrders
	}
	if account.ReadOnly {
		return &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	return s.store.Tx(ctx, func(tx model.Tx) error {
		order, err := tx.Order(ctx, account.ID, number)
		if errors.Is(err, model.ErrNotFound) {
			return invalid(ItemOrderNumber, "no such order for this account")
		} else if err != nil {
			return err
		}
		terms, err := tx.TermsOf(ctx, number)
		if err != nil {
			return err
		}
		switch {
		case !terms.Refunded.IsZero():
			return errRefunded
		case order.Status != model.OrderActive:
			return errRejected
		}
		product, ok := s.orders.Catalog.Lookup(int(terms.Product))
		if !ok || product.Scope == catalog.Multi {
			return invalid(ItemOrderNumber, "only single-domain and wildcard orders are refunded")
		}
		now := s.clock.Now()
		if now.Sub(order.Created) > RefundWindow {
			return invalid(ItemOrderNumber, "the refund window of 30 days has passed")
		}
		// First, and conditional: of two refunds at once, one marks the
		// order and the other finds it marked (the credit goes back once).
		if err := tx.MarkRefunded(ctx, number, now); errors.Is(err, model.ErrNotFound) {
			return errRefunded
		} else if err != nil {
			return err
		}
		certs, err := tx.CertificatesOfOrder(ctx, number)
		if err != nil {
			return err
		}
		for _, c := range certs {
			if _, err := tx.RevokeCertificate(ctx, c.ID, now, ca.ReasonCessationOfOperation); err != nil {
				return err
			}
			if _, err := tx.RejectCertificate(ctx, c.ID); err != nil {
				return err
			}
		}
		if err := tx.SetOrderStatus(ctx, number, model.OrderCancelled); err != nil {
			return err
		}
		if terms.PaymentPending {
			return nil
		}
		return tx.Refund(ctx, account.ID, terms.CostCents)
	})
}
