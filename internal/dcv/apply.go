package dcv

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/model"
)

// CAAChecker checks the CAA records of a name; *contacts.Finder is the
// real one.
type CAAChecker interface {
	CheckCAA(ctx context.Context, name string, identities []string) contacts.CAAResult
}

// OrdersConfig wires the order life (AutoApplySSL to AutoRefund) into a
// Service.
type OrdersConfig struct {
	Catalog       *catalog.Catalog
	CA            *ca.CA
	CAA           CAAChecker
	CAAIdentities []string // issuer domains that CAA records may name
	Blocklist     *csr.Blocklist
	Log           *slog.Logger
}

// DefaultCAAIdentities are the issuer domains when the operator names none.
var DefaultCAAIdentities = []string{"sectigo.com", "dcvmail.test"}

// EnableOrders turns the order life on. Call it before serving.
func (s *Service) EnableOrders(cfg OrdersConfig) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if len(cfg.CAAIdentities) == 0 {
		cfg.CAAIdentities = DefaultCAAIdentities
	}
	s.orders = &cfg
}

// Orders is the order life's configuration, or nil when it is off.
func (s *Service) Orders() *OrdersConfig { return s.orders }

// Item names of the order calls.
const (
	ItemProduct           = "product"
	ItemCSR               = "csr"
	ItemDCVEmailAddresses = "dcvEmailAddresses"
	ItemCertificateID     = "certificateID"
	ItemSerialNumber      = "serialNumber"
)

// ApplyRequest is a parsed !AutoApplySSL or !AutoApplyOrder call.
type ApplyRequest struct {
	Account       model.Account
	Product       int64
	Days          int    // validity asked for; 0 the most
	CSR           string // as sent
	DomainNames   []string
	PrimaryDomain string
	Method        model.Method // dcvMethod; "" is EMAIL
	Address       string       // dcvEmailAddress, normalized
	Addresses     []string     // dcvEmailAddresses: a mailbox or a method per domainNames entry
	UniqueValue   string       // "" makes one
	Test          bool
	ForeignNumber string
	// noReuse: DCV again for every name (a replacement with a new key or
	// other names).
	noReuse bool
}

// ApplyResult is what AutoApplySSL answers.
type ApplyResult struct {
	OrderNumber    int64
	CertificateID  int64
	Cost           catalog.Money
	PaymentPending bool
	UniqueValue    string
	Issued         bool
}

// Apply places an order (docs/api.md, AutoApplySSL): the CSR's checks, the
// product's rules, the credit, then the 24-hour rule on the addresses; the
// order, its certificate request, the charge and the first DCV emails
// commit together. An order whose domains are all validated already (reuse
// of validation) is issued at once.
func (s *Service) Apply(ctx context.Context, r ApplyRequest) (ApplyResult, error) {
	o := s.orders
	if o == nil {
		return ApplyResult{}, errNoOrders
	}
	if r.Account.ReadOnly {
		return ApplyResult{}, &Error{Kind: Forbidden, Detail: "the account is read-only"}
	}
	req, err := csr.Parse(r.CSR)
	if err != nil {
		return ApplyResult{}, err
	}
	product, ok := o.Catalog.Lookup(int(r.Product))
	if !ok {
		return ApplyResult{}, invalid(ItemProduct, "no such product")
	}
	if err := req.Check(csr.Rules{Wildcard: product.Scope == catalog.Wildcard, Intranet: product.Intranet, Blocklist: o.Blocklist}); err != nil {
		return ApplyResult{}, err
	}
	names, err := orderNames(req, product, r.DomainNames, r.PrimaryDomain)
	if err != nil {
		return ApplyResult{}, err
	}
	domains, err := planDomains(names, r)
	if err != nil {
		return ApplyResult{}, err
	}
	now := s.clock.Now()
	days := ca.ValidityDays(r.Days, product.MaxDays, now)
	res := ApplyResult{Cost: product.Cost(days), UniqueValue: r.UniqueValue}
	ready := false // every name validated at once: the order may be issued
	if res.UniqueValue == "" {
		res.UniqueValue = csr.NewUniqueValue()
	}
	err = s.store.Tx(ctx, func(tx model.Tx) error {
		billing, err := tx.BillingOf(ctx, r.Account.ID)
		if err != nil {
			return err
		}
		res.PaymentPending = billing.CustomerPays
		charge := !billing.CustomerPays
		if charge && billing.Limited && billing.CreditCents < int64(res.Cost) {
			return errNoCredit // before the address rules, as documented
		}
		if res.OrderNumber, err = tx.NextOrderNumber(ctx); err != nil {
			return err
		}
		if res.CertificateID, err = tx.NextCertificateID(ctx); err != nil {
			return err
		}
		order := model.Order{Number: res.OrderNumber, AccountID: r.Account.ID, BaseNumber: res.OrderNumber, Status: model.OrderActive, Created: now}
		if err := tx.CreateOrder(ctx, order, domains); err != nil {
			return err
		}
		if err := tx.SetTerms(ctx, order.Number, model.Terms{Product: r.Product, Days: days, CostCents: int64(res.Cost),
			UniqueValue: res.UniqueValue, PaymentPending: billing.CustomerPays, Test: r.Test, ForeignOrderNumber: r.ForeignNumber}); err != nil {
			return err
		}
		if err := tx.CreateCertificate(ctx, model.Certificate{ID: res.CertificateID, OrderNumber: order.Number, CSR: req.DER, Names: names, Created: now}); err != nil {
			return err
		}
		if ready, err = s.startDCV(ctx, tx, order, domains, r); err != nil {
			return err
		}
		// The charge comes last, so that on PostgreSQL the account's row is
		// locked for the commit alone rather than for the whole order: the
		// account's other orders wait for no more. It still refuses when
		// another order took the credit since it was read above.
		if charge {
			if charged, err := tx.Charge(ctx, r.Account.ID, int64(res.Cost)); err != nil {
				return err
			} else if !charged {
				return errNoCredit
			}
		}
		return nil
	})
	if err != nil {
		return ApplyResult{}, err
	}
	s.enqueued()
	if ready {
		res.Issued = s.AfterValidation(ctx, res.OrderNumber)
	}
	return res, nil
}

// orderNames are the certificate's names: for single-domain and wildcard
// products the CSR's primary name and its companion, for multi-domain
// products domainNames (or, without it, the CSR's names) with the primary
// name first.
func orderNames(req *csr.Request, p catalog.Product, list []string, primary string) ([]string, error) {
	if p.Scope != catalog.Multi {
		names, err := req.SingleDomainNames()
		return names, nameErr(err)
	}
	raw := list
	if len(raw) == 0 {
		names, err := req.Names()
		if err != nil {
			return nil, nameErr(err)
		}
		raw = names
	}
	if primary != "" {
		raw = append([]string{primary}, raw...)
	}
	names, err := csr.NormalizeNames(raw)
	if err != nil {
		return nil, invalid(ItemDomainNames, err.Error())
	}
	if len(names) > p.MaxDomains {
		return nil, invalid(ItemDomainNames, "more names than the product allows")
	}
	return names, nil
}

func nameErr(err error) error {
	var ne *csr.NameError
	if errors.As(err, &ne) {
		return invalid(ItemCSR, ne.Error())
	}
	return err
}

// planDomains makes the order's domains and their DCV methods: dcvMethod
// for all, or per name from dcvEmailAddresses (an address means EMAIL).
func planDomains(names []string, r ApplyRequest) ([]model.Domain, error) {
	if len(r.Addresses) > 0 && len(r.Addresses) != len(names) {
		return nil, invalid(ItemDCVEmailAddresses, "one entry per name of the order is needed")
	}
	method := r.Method
	if method == "" {
		method = model.MethodEmail
	}
	out := make([]model.Domain, len(names))
	for i, n := range names {
		d := model.Domain{Position: i + 1, Name: n, FQDN: strings.TrimPrefix(n, "*."), Method: method}
		if len(r.Addresses) > 0 {
			d.Method = model.MethodEmail
			if m, ok := keywordMethod(r.Addresses[i]); ok {
				d.Method = m
			}
		}
		out[i] = d
	}
	return out, nil
}

// keywordMethod maps the method keywords of dcvEmailAddresses (written
// without underscores) to methods.
func keywordMethod(v string) (model.Method, bool) {
	switch strings.ToUpper(strings.ReplaceAll(v, "_", "")) {
	case "HTTPCSRHASH":
		return model.MethodHTTPCSRHash, true
	case "HTTPSCSRHASH":
		return model.MethodHTTPSCSRHash, true
	case "CNAMECSRHASH":
		return model.MethodCNAMECSRHash, true
	}
	return "", false
}

// startDCV validates at once the names this account validated within the
// reuse period, and sends the first DCV email to each address chosen, under
// the 24-hour rule; the other methods wait for the operator or the test
// control. It reports whether every name was validated at once, which
// alone lets the order be issued now.
func (s *Service) startDCV(ctx context.Context, tx model.Tx, order model.Order, domains []model.Domain, r ApplyRequest) (bool, error) {
	now := s.clock.Now()
	since := now.AddDate(0, 0, -ca.ReusePeriod.At(now))
	var awaiting []model.Domain
	validated := 0
	for _, d := range domains {
		var at time.Time
		if !r.noReuse {
			var err error
			if at, err = tx.ValidatedSince(ctx, r.Account.ID, d.FQDN, since); err != nil {
				return false, err
			}
		}
		if !at.IsZero() {
			if err := tx.ValidateDomainNow(ctx, order.Number, d.Position, at); err != nil {
				return false, err
			}
			validated++
			continue
		}
		if d.Method != model.MethodEmail {
			continue
		}
		awaiting = append(awaiting, d)
	}
	groups := map[string][]model.Domain{}
	var addrOrder []string
	for _, d := range awaiting {
		addr := r.Address
		if len(r.Addresses) > 0 {
			addr = r.Addresses[d.Position-1]
		}
		if addr == "" {
			continue
		}
		if _, seen := groups[addr]; !seen {
			addrOrder = append(addrOrder, addr)
		}
		groups[addr] = append(groups[addr], d)
	}
	item := ItemDCVEmailAddress
	if len(r.Addresses) > 0 {
		item = ItemDCVEmailAddresses
	}
	for _, addr := range addrOrder {
		to, err := s.permittedDomains(ctx, tx, r.Account.ID, addr, groups[addr], item)
		if err != nil {
			return false, err
		}
		if len(r.Addresses) > 0 && len(to) != len(groups[addr]) {
			return false, invalid(item, "an address is not a permitted recipient for its name")
		}
		if err := s.sendNew(ctx, tx, order, addr, to, 0); err != nil {
			return false, err
		}
	}
	return validated == len(domains), nil
}

// publicKey of a stored CSR.
func publicKey(der []byte) (any, error) {
	cr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	return cr.PublicKey, nil
}
