package dcv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
)

// The limits on wrong codes on the confirmation page. A random value has
// 128 bits, so guessing is hopeless anyway; the limits keep it so and keep
// the work a guesser can cause small. They are counted per source (an IPv4
// address or an IPv6 /64, as the login lockout counts), in the database so
// that they hold across nodes: one source's guessing never closes the page
// to another, so nobody can lock a domain owner out of an order
// (SECURITY.md, "The confirmation page").
const (
	// CodeAttemptLimit is how many wrong codes one source may send for one
	// order in one CodeAttemptWindow; further codes from it for that
	// order, right ones too, are refused until the window ends. A new DCV
	// email of the order starts the count afresh: its code is judged on
	// its own.
	CodeAttemptLimit = 10
	// CodeAttemptWindow is the fixed window, from the first wrong code.
	CodeAttemptWindow = time.Hour
	// SourceCodeAttemptLimit is how many wrong codes one source may send
	// across all order numbers, existing or not, in one
	// CodeAttemptWindow.
	SourceCodeAttemptLimit = 50
)

// NormalizeCode reads a random value as a person or a tool submits it: the
// white space around it is dropped and lowercase letters are taken as
// uppercase. It reports whether the result has the shape of a random value
// (26 characters of A-Z and 2-7).
func NormalizeCode(s string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != encoding.EncodedLen(RandomValueBytes) {
		return c, false
	}
	for i := 0; i < len(c); i++ {
		if !(c[i] >= 'A' && c[i] <= 'Z' || c[i] >= '2' && c[i] <= '7') {
			return c, false
		}
	}
	return c, true
}

// ConfirmRequest is a code submitted on the confirmation page, with the
// evidence of who submitted it.
type ConfirmRequest struct {
	OrderNumber int64
	Code        string // as submitted; NormalizeCode is applied
	ClientIP    string
	// Source is what the limits count the client as (origin.Source of its
	// address); "" counts it as one unknown source.
	Source    string
	PeerAddr  string
	UserAgent string
}

// Outcome is what became of a submitted code.
type Outcome int

const (
	// Confirmed: the code was live; Domains were validated now.
	Confirmed Outcome = iota + 1
	// AlreadyValidated: the code is the order's, and the domains it covered
	// are validated already (a replay). AllValidated tells whether no
	// domain of the order awaits email validation any more.
	AlreadyValidated
	// Rejected: no such code for that order number (wrong, malformed,
	// another order's, or no such order). Says nothing more.
	Rejected
	// Expired: the order's live code, past its validity.
	Expired
	// Superseded: a code of the order that a newer email replaced.
	Superseded
	// OrderClosed: a code of an order that is cancelled or rejected.
	OrderClosed
	// TooManyAttempts: the source has sent CodeAttemptLimit wrong codes
	// for the order, or SourceCodeAttemptLimit in all, in the window;
	// nothing was judged.
	TooManyAttempts
)

// Confirmation is the answer to a submitted code. Only Rejected and
// TooManyAttempts can be told to someone without the code: the others tell
// the code's holder about an order they already know of from the email.
type Confirmation struct {
	Outcome Outcome
	// Domains: with Confirmed those validated now; with AlreadyValidated
	// those validated already, as ordered.
	Domains      []string
	AllValidated bool
	// Malformed marks a Rejected code that does not even have the shape of
	// one, or a missing order number (not counted; AttemptsLeft is 0).
	Malformed bool
	// Expires is when an Expired code stopped being accepted.
	Expires time.Time
	// AttemptsLeft is how many more wrong codes the source may send for
	// the order number in this window (Rejected, Expired, Superseded,
	// OrderClosed).
	AttemptsLeft int
	// RetryAt is when the window ends (TooManyAttempts, or no attempt left).
	RetryAt time.Time
	// issuable: the order was placed through the API (it has a product),
	// so a confirmation may complete it and let its certificate be issued.
	// An order the operator made has none, and the issuance's reads are
	// spared.
	issuable bool
}

// Confirm judges a code submitted for an order (docs/api.md §6). A code
// that is a live random value of the order validates every domain whose
// live email it belongs to, and the approver's address and user agent are
// kept as evidence, in one transaction. A code is compared by its keyed
// hash and then in constant time; wrong codes are limited per source and
// order, and per source. An order number that does not exist is counted
// only against the source's total (no row is made for it), with the answer
// of a wrong code. Confirm is the only call of the page that changes state.
func (s *Service) Confirm(ctx context.Context, r ConfirmRequest) (Confirmation, error) {
	code, ok := NormalizeCode(r.Code)
	if !ok || r.OrderNumber <= 0 {
		return Confirmation{Outcome: Rejected, Malformed: true}, nil
	}
	hash := s.values.Hash(code)
	source := "source:" + r.Source
	if r.Source == "" {
		source = "source:unknown"
	}
	perOrder := fmt.Sprintf("order:%d %s", r.OrderNumber, source)
	var c Confirmation
	// The source's count is held from its first statement to the commit,
	// so one source's POSTs are judged one at a time (and queue as TxFor
	// says).
	err := s.store.TxFor(ctx, source, func(tx model.Tx) error {
		now := s.clock.Now()
		expired := now.Add(-CodeAttemptWindow)
		look, err := tx.CodeLookup(ctx, r.OrderNumber, hash)
		if err != nil {
			return err
		}
		subjects := []model.CodeSubject{{Subject: source}}
		if look.Exists {
			// Counts from before the order's newest email do not hold
			// against its code: the epoch starts them afresh.
			subjects = append(subjects, model.CodeSubject{Subject: perOrder, OrderNumber: r.OrderNumber, Epoch: look.Epoch})
		}
		// A code of the order (its keyed hash found the email; compared
		// once more in constant time) is judged before it is counted, once
		// its counts are seen to allow one more code; a right one is not
		// counted at all, so the page's commonest POST writes no count.
		judged := false
		if look.Email.ID != 0 && s.values.Matches(code, look.Email.CodeHash) {
			held, err := tx.HoldCodeAttempts(ctx, subjects, now, expired)
			if err != nil {
				return err
			}
			if left, _ := attemptsLeft(held); left > 0 {
				if c, err = s.judge(ctx, tx, r, look.Email, now); err != nil {
					return err
				}
				if c.Outcome == Confirmed || c.Outcome == AlreadyValidated {
					return nil
				}
				judged = true
			}
		}
		counts, err := tx.CountCodeAttempts(ctx, subjects, now, expired)
		if err != nil {
			return err
		}
		left, retryAt := attemptsLeft(counts)
		if left < 0 {
			c = Confirmation{Outcome: TooManyAttempts, RetryAt: retryAt}
			return nil
		}
		if !judged {
			c = Confirmation{Outcome: Rejected}
		}
		c.AttemptsLeft = left
		if left == 0 {
			c.RetryAt = retryAt
		}
		return nil
	})
	if err != nil {
		return Confirmation{}, err
	}
	s.pruneCodeAttempts(ctx, s.clock.Now())
	if c.Outcome == Confirmed && c.issuable {
		// The last domain of an API order: issue now (issue.go).
		s.AfterValidation(ctx, r.OrderNumber)
	}
	return c, nil
}

// attemptsLeft is how many more wrong codes the counts of a source (the
// first) and of the source for an order (the second, when the order exists)
// allow, and when the window of the nearer limit ends.
func attemptsLeft(counts []model.CodeAttempts) (int, time.Time) {
	left, retryAt := SourceCodeAttemptLimit-counts[0].Failures, counts[0].WindowStart.Add(CodeAttemptWindow)
	if len(counts) > 1 {
		if l := CodeAttemptLimit - counts[1].Failures; l < left {
			left, retryAt = l, counts[1].WindowStart.Add(CodeAttemptWindow)
		}
	}
	return left, retryAt
}

// judge decides what a code means for an order, given the order's email
// whose code it is. With Confirmed, one write validates the domains and
// records the evidence.
func (s *Service) judge(ctx context.Context, tx model.Tx, r ConfirmRequest, e model.Email, now time.Time) (Confirmation, error) {
	order, err := tx.OrderStateOf(ctx, r.OrderNumber) // with its domains, in one read
	if err != nil {
		return Confirmation{}, err
	}
	if order.Status != model.OrderActive {
		return Confirmation{Outcome: OrderClosed}, nil
	}
	var live, byThis, validated []string
	awaitingAny := false
	for _, d := range order.Domains {
		switch {
		case d.Awaiting():
			awaitingAny = true
			if d.CurrentEmailID == e.ID {
				live = append(live, d.Name)
			}
		case !d.Validated.IsZero():
			validated = append(validated, d.Name)
			if d.ValidatedEmailID == e.ID {
				byThis = append(byThis, d.Name)
			}
		}
	}
	if len(live) > 0 {
		if !now.Before(e.Expires) {
			return Confirmation{Outcome: Expired, Expires: e.Expires}, nil
		}
		n, err := tx.ConfirmDomains(ctx, model.Confirmation{
			OrderNumber: r.OrderNumber,
			EmailID:     e.ID,
			Domains:     live,
			ClientIP:    clip(r.ClientIP, 64),
			PeerAddr:    clip(r.PeerAddr, 128),
			UserAgent:   clip(r.UserAgent, 512),
			At:          now,
		})
		if err != nil {
			return Confirmation{}, err
		}
		if n != int64(len(live)) {
			return Confirmation{}, errors.New("dcv: confirm: the domains changed under the transaction")
		}
		return Confirmation{Outcome: Confirmed, Domains: live, issuable: order.Product != 0}, nil
	}
	var c Confirmation
	switch {
	case !awaitingAny && len(validated) > 0:
		c = Confirmation{Outcome: AlreadyValidated, Domains: validated, AllValidated: true}
	case len(byThis) > 0:
		c = Confirmation{Outcome: AlreadyValidated, Domains: byThis}
	default:
		return Confirmation{Outcome: Superseded}, nil
	}
	return c, nil
}

// Confirmations lists the evidence of an order's confirmations, oldest
// first (for `dcvmail order show`).
func (s *Service) Confirmations(ctx context.Context, orderNumber int64) ([]model.Confirmation, error) {
	return s.store.ConfirmationsOfOrder(ctx, orderNumber)
}

// clip cuts s to at most n bytes on a rune boundary, with invalid UTF-8
// replaced, so that evidence from a client stays storable text.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
