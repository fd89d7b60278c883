package dcv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/model"
)

// ReplaceRequest is a parsed !AutoReplaceSSL call; its fields are
// ApplyRequest's, OrderNumber naming the order.
type ReplaceRequest struct {
	ApplyRequest
	OrderNumber int64
}

// ReplaceResult is what AutoReplaceSSL answers.
type ReplaceResult struct {
	CertificateID int64
	UniqueValue   string
	Issued        bool
}

// Replace carries out AutoReplaceSSL (docs/api.md): a new certificate
// request on the same order, with a new certificateID. A CSR with the key
// and the names of the order's newest certificate, issued within the reuse
// period, is issued at once without DCV; a new key or other names need DCV
// again for every name. The old certificate is not revoked.
func (s *Service) Replace(ctx context.Context, r ReplaceRequest) (ReplaceResult, error) {
	o := s.orders
	if o == nil {
		return ReplaceResult{}, errNoOrders
	}
	if r.Account.ReadOnly {
		return ReplaceResult{}, &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	var res ReplaceResult
	ready := false // the order may be issued now
	err := s.store.Tx(ctx, func(tx model.Tx) error {
		state, err := s.resolveOrder(ctx, tx, r.Account.ID, r.OrderNumber, 0)
		if err != nil {
			return err
		}
		terms, err := tx.TermsOf(ctx, state.Number)
		if err != nil {
			return err
		}
		product, ok := o.Catalog.Lookup(int(terms.Product))
		if !ok {
			return invalid(ItemOrderNumber, "the order was not placed through the API")
		}
		if state.Status != model.OrderActive || !terms.Refunded.IsZero() {
			return errRejected
		}
		certs, err := tx.CertificatesOfOrder(ctx, state.Number)
		if err != nil || len(certs) == 0 {
			return err
		}
		last := certs[len(certs)-1]
		now := s.clock.Now()
		switch {
		case last.State == model.CertPending:
			return errBeingIssued
		case last.State == model.CertIssued && now.After(last.NotAfter):
			return errExpired
		}
		text := r.CSR
		if text == "" {
			text = string(pemCSR(last.CSR))
		}
		req, err := csr.Parse(text)
		if err != nil {
			return err
		}
		if err := req.Check(csr.Rules{Wildcard: product.Scope == catalog.Wildcard, Intranet: product.Intranet, Blocklist: o.Blocklist}); err != nil {
			return err
		}
		names, err := orderNames(req, product, r.DomainNames, r.PrimaryDomain)
		if err != nil {
			return err
		}
		if res.CertificateID, err = tx.NextCertificateID(ctx); err != nil {
			return err
		}
		res.UniqueValue = r.UniqueValue
		if res.UniqueValue == "" {
			res.UniqueValue = terms.UniqueValue
		}
		if err := tx.CreateCertificate(ctx, model.Certificate{ID: res.CertificateID, OrderNumber: state.Number, CSR: req.DER, Names: names, Created: now}); err != nil {
			return err
		}
		if ready = reusable(last, req, names, state.Domains, now); ready {
			return nil
		}
		domains, err := planDomains(names, r.ApplyRequest)
		if err != nil {
			return err
		}
		if err := tx.ResetDomains(ctx, state.Number, domains); err != nil {
			return err
		}
		r.ApplyRequest.noReuse = true
		ready, err = s.startDCV(ctx, tx, state.Order, domains, r.ApplyRequest)
		return err
	})
	if err != nil {
		return ReplaceResult{}, err
	}
	s.enqueued()
	if ready {
		res.Issued = s.AfterValidation(ctx, r.OrderNumber)
	}
	return res, nil
}

// reusable: the same key and the same names as an issued certificate, and
// every domain's validation still within the reuse period.
func reusable(last model.Certificate, req *csr.Request, names []string, domains []model.Domain, now time.Time) bool {
	if last.State != model.CertIssued || !slices.Equal(last.Names, names) {
		return false
	}
	old, err := x509.ParseCertificateRequest(last.CSR)
	if err != nil || !bytes.Equal(old.RawSubjectPublicKeyInfo, req.RawSubjectPublicKeyInfo) {
		return false
	}
	for _, d := range domains {
		if d.Validated.IsZero() || !ca.ReuseValid(d.Validated, now) {
			return false
		}
	}
	return true
}

// pemCSR armours a stored CSR's DER for csr.Parse.
func pemCSR(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
