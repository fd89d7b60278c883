package dcv

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"

	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/model"
)

// The statuses of CollectSSL (docs/api.md, CollectSSL).
const (
	CollectProcessing = 0
	CollectIssued     = 2
	CollectRejected   = -20
	CollectRevoked    = -21
	CollectPayment    = -22
)

// Collected is an order as CollectSSL reports it.
type Collected struct {
	Order   model.Order
	Terms   model.Terms
	Product catalog.Product
	Domains []model.Domain
	Status  int
	// Cert is the certificate answered (the one asked for by
	// certificateID, or the order's newest issued one); Leaf is it parsed
	// when issued.
	Cert  model.Certificate
	Leaf  *x509.Certificate
	Chain []*x509.Certificate // root first
}

// Collect reads what CollectSSL answers for an order (by order number or
// base order number) or one certificate (by certificateID). An order whose
// issuance waits only for a retry (a CAA record that forbade it, or a
// failed lookup) is tried again first.
func (s *Service) Collect(ctx context.Context, account model.Account, number, base, certificateID int64) (Collected, error) {
	if s.orders == nil {
		return Collected{}, errNoOrders
	}
	var c Collected
	var err error
	switch {
	case certificateID != 0:
		c.Cert, c.Order, err = s.certificateOf(ctx, account.ID, certificateID)
	case number != 0:
		c.Order, err = s.accountOrder(ctx, account.ID, number, ItemOrderNumber)
	default:
		number, err = s.store.NewestInChain(ctx, account.ID, base)
		if errors.Is(err, model.ErrNotFound) {
			return c, invalid(ItemBaseOrderNumber, "no such order for this account")
		} else if err == nil {
			c.Order, err = s.accountOrder(ctx, account.ID, number, ItemBaseOrderNumber)
		}
	}
	if err != nil {
		return c, err
	}
	// Only an order whose newest request is pending has anything to
	// issue (TryIssue asks the same first), so only such an order is
	// tried again: an issued one, polled, costs no reads for it.
	certs, err := s.store.CertificatesOfOrder(ctx, c.Order.Number)
	if err != nil {
		return c, err
	}
	if n := len(certs); n > 0 && certs[n-1].State == model.CertPending && s.AfterValidation(ctx, c.Order.Number) {
		if certs, err = s.store.CertificatesOfOrder(ctx, c.Order.Number); err != nil {
			return c, err
		}
	}
	// The terms after the try, which records the CAA check's outcome.
	if c.Terms, err = s.store.TermsOf(ctx, c.Order.Number); err != nil {
		return c, err
	}
	c.Product, _ = s.orders.Catalog.Lookup(int(c.Terms.Product))
	if c.Domains, err = s.store.Domains(ctx, c.Order.Number); err != nil {
		return c, err
	}
	if certificateID != 0 {
		for _, x := range certs {
			if x.ID == certificateID {
				c.Cert = x
			}
		}
	} else {
		c.Cert = newestIssued(certs)
	}
	c.Status = collectStatus(c)
	if c.Cert.State == model.CertIssued {
		if c.Leaf, err = x509.ParseCertificate(c.Cert.DER); err != nil {
			return c, err
		}
		c.Chain = s.orders.CA.Chain()
	}
	return c, nil
}

// newestIssued is the newest issued certificate, else the newest request.
func newestIssued(certs []model.Certificate) model.Certificate {
	for i := len(certs) - 1; i >= 0; i-- {
		if certs[i].State == model.CertIssued {
			return certs[i]
		}
	}
	if len(certs) == 0 {
		return model.Certificate{}
	}
	return certs[len(certs)-1]
}

func collectStatus(c Collected) int {
	switch {
	case c.Order.Status != model.OrderActive || !c.Terms.Refunded.IsZero() || c.Cert.State == model.CertRejected:
		return CollectRejected
	case c.Terms.PaymentPending:
		return CollectPayment
	case c.Cert.State == model.CertIssued && !c.Cert.Revoked.IsZero():
		return CollectRevoked
	case c.Cert.State == model.CertIssued:
		return CollectIssued
	}
	return CollectProcessing
}

// accountOrder reads an order of the account; a missing one and another
// account's are refused alike, on item.
func (s *Service) accountOrder(ctx context.Context, accountID, number int64, item string) (model.Order, error) {
	o, err := s.store.Order(ctx, accountID, number)
	if errors.Is(err, model.ErrNotFound) {
		return o, invalid(item, "no such order for this account")
	}
	return o, err
}

// certificateOf reads a certificate by certificateID and its order, which
// must be the account's.
func (s *Service) certificateOf(ctx context.Context, accountID, id int64) (model.Certificate, model.Order, error) {
	c, err := s.store.CertificateByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return c, model.Order{}, invalid(ItemCertificateID, "no such certificate for this account")
	} else if err != nil {
		return c, model.Order{}, err
	}
	o, err := s.store.Order(ctx, accountID, c.OrderNumber)
	if errors.Is(err, model.ErrNotFound) {
		return c, o, invalid(ItemCertificateID, "no such certificate for this account")
	}
	return c, o, err
}

// NormalizeSerial writes a hexadecimal serial as the store keeps it:
// lowercase, no leading zeros, no colons or spaces; false when it is not
// hexadecimal.
func NormalizeSerial(s string) (string, bool) {
	s = strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s))
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 || len(s) > 64 {
		return "", false
	}
	return n.Text(16), true
}
