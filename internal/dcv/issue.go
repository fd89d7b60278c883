package dcv

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/model"
)

// AfterValidation issues an order's pending certificate if nothing stands
// in the way any more, and reports whether this call issued it. Failures
// are logged, never returned: the confirmation that called it stands, and
// a later call (another confirmation, a CollectSSL poll) tries again.
func (s *Service) AfterValidation(ctx context.Context, number int64) bool {
	if s.orders == nil {
		return false
	}
	issued, err := s.TryIssue(ctx, number)
	if err != nil {
		s.orders.Log.Error("issuance failed", "order", number, "err", err)
	}
	return issued
}

// TryIssue issues the newest pending certificate of an order when every
// domain is validated (and the organization, for OV and EV), the order is
// active and paid, and CAA permits every name (BR 3.2.2.8). The CAA check
// runs first, outside any transaction, and so does the signing; the
// certificate is then claimed in a transaction whose conditional UPDATE
// lets exactly one node issue it.
func (s *Service) TryIssue(ctx context.Context, number int64) (bool, error) {
	o := s.orders
	// The terms first: an order the operator made (product 0) has nothing
	// to issue, and a call for one (a CollectSSL poll, say) then costs one
	// read here, not two. (The page's POST does not call for one at all.)
	terms, err := s.store.TermsOf(ctx, number)
	if err != nil {
		return false, err
	}
	product, ok := o.Catalog.Lookup(int(terms.Product))
	if !ok {
		return false, nil
	}
	order, err := s.store.OrderStateOf(ctx, number) // with its domains
	if err != nil {
		return false, err
	}
	if order.Status != model.OrderActive || terms.PaymentPending || !terms.Refunded.IsZero() {
		return false, nil
	}
	if product.OrganizationValidated() && terms.OrgValidated.IsZero() {
		return false, nil
	}
	for _, d := range order.Domains {
		if d.Validated.IsZero() {
			return false, nil
		}
	}
	pending, ok, err := s.pendingCertificate(ctx, number)
	if err != nil || !ok {
		return false, err
	}
	caa := s.checkCAA(ctx, pending.Names)
	if caa.Status != contacts.CAAPermitted && caa.Status != contacts.CAAUnchecked {
		return false, s.store.Tx(ctx, func(tx model.Tx) error { return tx.SetCAAStatus(ctx, number, caaText(caa)) })
	}
	pub, err := publicKey(pending.CSR)
	if err != nil {
		return false, err
	}
	// Signed before the transaction, not in it: signing and linting take
	// milliseconds of CPU, and on SQLite every other write of the service
	// would wait behind them in the one writer's turn. A certificate whose
	// claim fails is dropped unpublished, as it was when signed inside.
	cert, err := o.CA.Issue(ca.IssueRequest{PublicKey: pub, Names: pending.Names, Validation: ca.Validation(product.Kind),
		Subject: subjectOf(pending.CSR, product.Kind), Days: terms.Days})
	if err != nil {
		return false, err
	}
	pending.Serial, pending.DER = cert.SerialNumber.Text(16), cert.Raw
	pending.NotBefore, pending.NotAfter = cert.NotBefore, cert.NotAfter
	issued := false
	err = s.store.Tx(ctx, func(tx model.Tx) (err error) {
		pending.Issued = s.clock.Now()
		if issued, err = tx.ClaimCertificate(ctx, pending); err != nil || !issued {
			return err
		}
		return tx.SetCAAStatus(ctx, number, caaText(caa))
	})
	if err == nil && issued {
		o.Log.Info("certificate issued", "order", number, "certificateID", pending.ID, "serial", pending.Serial)
	}
	return issued, err
}

// pendingCertificate is the order's newest certificate request if it is
// pending.
func (s *Service) pendingCertificate(ctx context.Context, number int64) (model.Certificate, bool, error) {
	certs, err := s.store.CertificatesOfOrder(ctx, number)
	if err != nil || len(certs) == 0 {
		return model.Certificate{}, false, err
	}
	last := certs[len(certs)-1]
	return last, last.State == model.CertPending, nil
}

// checkCAA checks every name; the first that does not permit decides.
func (s *Service) checkCAA(ctx context.Context, names []string) contacts.CAAResult {
	res := contacts.CAAResult{Status: contacts.CAAUnchecked}
	if s.orders.CAA == nil {
		return res
	}
	for _, n := range names {
		r := s.orders.CAA.CheckCAA(ctx, n, s.orders.CAAIdentities)
		switch r.Status {
		case contacts.CAAPermitted:
			res = r
		case contacts.CAAUnchecked:
		default:
			return r
		}
	}
	return res
}

// caaText is what caaStatus keeps: the status, and the reason after ": ".
func caaText(r contacts.CAAResult) string {
	if r.Reason == "" {
		return r.Status
	}
	return r.Status + ": " + r.Reason
}

// subjectOf takes an OV or EV certificate's organization fields from its
// CSR (dcvmail's choice: the vendor takes them from its own validation).
func subjectOf(der []byte, kind catalog.Kind) pkix.Name {
	if kind == catalog.DV {
		return pkix.Name{}
	}
	cr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return pkix.Name{}
	}
	n := cr.Subject
	return pkix.Name{Organization: n.Organization, Locality: n.Locality, Province: n.Province, Country: n.Country}
}

// errNoOrders is returned by order calls when EnableOrders was not called.
var errNoOrders = errors.New("dcv: orders are not enabled")

// CAAStatusCode is caaStatus of CollectSSL's status details: 1 checked and
// permitted (or not checked, DNS off), 0 not completed (forbidden or
// failed), 2 in progress (not checked yet).
func CAAStatusCode(status string) string {
	switch {
	case status == "":
		return "2"
	case strings.HasPrefix(status, contacts.CAAPermitted), strings.HasPrefix(status, contacts.CAAUnchecked):
		return "1"
	}
	return "0"
}

// ValidateOrganization records that an OV or EV order's organization is
// validated (the operator's or the test control's mark) and issues the
// order if nothing else stands in the way.
func (s *Service) ValidateOrganization(ctx context.Context, number int64) (issued bool, err error) {
	if s.orders == nil {
		return false, errNoOrders
	}
	if err := s.store.Tx(ctx, func(tx model.Tx) error { return tx.SetOrgValidated(ctx, number, s.clock.Now()) }); err != nil {
		return false, err
	}
	return s.TryIssue(ctx, number)
}

// ValidateDomain marks one domain of an order validated without an email:
// the operator's (or the test control's) mark for the CSR-hash methods,
// which dcvmail does not check itself. The name is as ordered ("*." kept).
// The order is issued if nothing else stands in the way.
func (s *Service) ValidateDomain(ctx context.Context, number int64, name string) (issued bool, err error) {
	if s.orders == nil {
		return false, errNoOrders
	}
	domains, err := s.store.Domains(ctx, number)
	if err != nil {
		return false, err
	}
	for _, d := range domains {
		if d.Name != name {
			continue
		}
		if d.Validated.IsZero() {
			if err := s.store.Tx(ctx, func(tx model.Tx) error { return tx.ValidateDomainNow(ctx, number, d.Position, s.clock.Now()) }); err != nil {
				return false, err
			}
		}
		return s.TryIssue(ctx, number)
	}
	return false, invalid(ItemDomainName, "no such domain in the order")
}
