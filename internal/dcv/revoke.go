package dcv

import (
	"context"
	"errors"
	"math/big"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/model"
)

// RevokeRequest is a parsed !AutoRevokeSSL call: one of OrderNumber,
// CertificateID and Serial (normalized hex).
type RevokeRequest struct {
	Account       model.Account
	OrderNumber   int64
	CertificateID int64
	Serial        string
	Reason        int  // RFC 5280 reason code
	Test          bool // checked and answered; nothing changes
	NoReasonText  bool // revocationReason absent: -23 instead of -26
}

// Revoke carries out AutoRevokeSSL (docs/api.md): by order, every issued
// and unrevoked certificate of the order is revoked and a pending request
// rejected (an order with nothing issued is rejected); by certificateID or
// serial, that certificate alone. The CRL and OCSP read the store, so they
// say revoked as soon as this commits.
func (s *Service) Revoke(ctx context.Context, r RevokeRequest) error {
	if s.orders == nil {
		return errNoOrders
	}
	if r.Account.ReadOnly {
		return &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	return s.store.Tx(ctx, func(tx model.Tx) error {
		targets, order, err := s.revokeTargets(ctx, tx, r)
		if err != nil {
			return err
		}
		if order.Status != model.OrderActive {
			return errRejected
		}
		now := s.clock.Now()
		var issued, pending []model.Certificate
		revoked := false
		for _, c := range targets {
			switch {
			case c.State == model.CertIssued && c.Revoked.IsZero():
				issued = append(issued, c)
			case c.State == model.CertIssued:
				revoked = true
			case c.State == model.CertPending:
				pending = append(pending, c)
			}
		}
		if len(issued) == 0 {
			switch {
			case revoked:
				return errRevoked
			case len(pending) == 0:
				return errRejected
			case r.OrderNumber == 0:
				// One certificate, still pending: being issued.
				if r.NoReasonText {
					return errBeingIssuedOld
				}
				return errBeingIssued
			}
		}
		if r.Test {
			return nil
		}
		for _, c := range issued {
			if _, err := tx.RevokeCertificate(ctx, c.ID, now, r.Reason); err != nil {
				return err
			}
		}
		for _, c := range pending {
			if _, err := tx.RejectCertificate(ctx, c.ID); err != nil {
				return err
			}
		}
		if len(issued) == 0 {
			return tx.SetOrderStatus(ctx, order.Number, model.OrderRejected)
		}
		return nil
	})
}

func (s *Service) revokeTargets(ctx context.Context, tx model.Tx, r RevokeRequest) ([]model.Certificate, model.Order, error) {
	if r.OrderNumber != 0 {
		o, err := tx.Order(ctx, r.Account.ID, r.OrderNumber)
		if errors.Is(err, model.ErrNotFound) {
			return nil, o, invalid(ItemOrderNumber, "no such order for this account")
		} else if err != nil {
			return nil, o, err
		}
		certs, err := tx.CertificatesOfOrder(ctx, o.Number)
		return certs, o, err
	}
	var c model.Certificate
	var err error
	item := ItemCertificateID
	if r.CertificateID != 0 {
		c, err = tx.CertificateByID(ctx, r.CertificateID)
	} else {
		item = ItemSerialNumber
		c, err = tx.CertificateBySerial(ctx, r.Serial)
	}
	if errors.Is(err, model.ErrNotFound) {
		return nil, model.Order{}, invalid(item, "no such certificate for this account")
	} else if err != nil {
		return nil, model.Order{}, err
	}
	o, err := tx.Order(ctx, r.Account.ID, c.OrderNumber)
	if errors.Is(err, model.ErrNotFound) {
		return nil, o, invalid(item, "no such certificate for this account")
	}
	return []model.Certificate{c}, o, err
}

// CertStatus implements ca.StatusLookup from the store: OCSP's answer for
// a serial.
func (s *Service) CertStatus(ctx context.Context, serial *big.Int) (ca.Status, error) {
	c, err := s.store.CertificateBySerial(ctx, serial.Text(16))
	if errors.Is(err, model.ErrNotFound) {
		return ca.Status{}, nil
	} else if err != nil {
		return ca.Status{}, err
	}
	return ca.Status{Known: true, Revoked: !c.Revoked.IsZero(), RevokedAt: c.Revoked, Reason: c.Reason}, nil
}

// CRL is the issuing CA's CRL as of now, listing every revoked certificate.
func (s *Service) CRL(ctx context.Context) ([]byte, error) {
	if s.orders == nil {
		return nil, errNoOrders
	}
	list, err := s.store.RevokedCertificates(ctx)
	if err != nil {
		return nil, err
	}
	revoked := make([]ca.Revoked, 0, len(list))
	for _, r := range list {
		n, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			continue
		}
		revoked = append(revoked, ca.Revoked{Serial: n, At: r.At, Reason: r.Reason})
	}
	return s.orders.CA.CRL(revoked)
}
