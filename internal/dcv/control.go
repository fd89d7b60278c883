package dcv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/model"
)

// ErrNoOrder: no order has the number (operator and test controls).
var ErrNoOrder = errors.New("no such order")

// ValidateByControl is the test control that marks domains of an order
// validated as if their current method (email, HTTP, HTTPS or CNAME) had
// succeeded, with "test-control" as the evidence (docs/control.md). domain
// names one domain (as ordered, or its normalized name); "" is all of
// them. organization also records the OV/EV organization validation. It
// returns how many domains it marked; those validated already keep their
// evidence. An unknown domain is an Invalid refusal on domainName.
func (s *Service) ValidateByControl(ctx context.Context, number int64, domain string, organization bool) (int64, error) {
	domains, err := s.store.Domains(ctx, number)
	if err != nil {
		return 0, err
	}
	if len(domains) == 0 {
		return 0, ErrNoOrder
	}
	var positions []int
	if domain != "" {
		fqdn, _ := contacts.Normalize(domain)
		for _, d := range domains {
			if strings.EqualFold(d.Name, domain) || (fqdn != "" && d.FQDN == fqdn) {
				positions = append(positions, d.Position)
			}
		}
		if len(positions) == 0 {
			return 0, invalid(ItemDomainName, "the order has no domain "+domain)
		}
	}
	now := s.clock.Now()
	var n int64
	err = s.store.Tx(ctx, func(tx model.Tx) error {
		if n, err = tx.ValidateByControl(ctx, number, positions, now); err != nil {
			return err
		}
		if organization {
			return tx.SetOrganizationValidated(ctx, number, now, model.ValidatedByControl)
		}
		return nil
	})
	return n, err
}

// OrderInputError is an order an operator asked for that the rules refuse
// (CreateOrder): its text says which value and why.
type OrderInputError struct{ Msg string }

func (e *OrderInputError) Error() string { return e.Msg }

func badOrder(format string, args ...any) error {
	return &OrderInputError{fmt.Sprintf(format, args...)}
}
