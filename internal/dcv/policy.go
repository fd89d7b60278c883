package dcv

import (
	"fmt"
	"time"
)

// MaxCodeValidity is the longest a random value may be used: BR 3.2.2.4.4
// and 3.2.2.4.13/14 allow 30 days from its creation.
const MaxCodeValidity = 30 * 24 * time.Hour

// Policy holds the operator-set rules.
type Policy struct {
	// CodeValidity is how long a random value confirms, from its creation;
	// resending does not restart it. Default 29 days, at most 30.
	CodeValidity time.Duration
	// ResendBurst and ResendInterval limit resends per order: a burst of
	// ResendBurst, then one more each ResendInterval.
	ResendBurst    int
	ResendInterval time.Duration
	// OfferWindow is how long an address returned by GetDCVEmailAddressList
	// may be chosen by ResendDCVEmail (24 hours in the vendor's rules).
	OfferWindow time.Duration
}

// DefaultPolicy is the policy when the operator sets nothing.
var DefaultPolicy = Policy{
	CodeValidity:   29 * 24 * time.Hour,
	ResendBurst:    5,
	ResendInterval: time.Minute,
	OfferWindow:    24 * time.Hour,
}

// Check refuses a policy that would break the rules.
func (p Policy) Check() error {
	if p.CodeValidity <= 0 || p.CodeValidity > MaxCodeValidity {
		return fmt.Errorf("dcv: code validity %v: must be more than 0 and at most 30 days (BR 3.2.2.4)", p.CodeValidity)
	}
	if p.ResendBurst < 1 || p.ResendInterval <= 0 {
		return fmt.Errorf("dcv: resend limit needs a burst of at least 1 and a positive interval")
	}
	if p.OfferWindow <= 0 {
		return fmt.Errorf("dcv: offer window must be positive")
	}
	return nil
}

// allowResend applies the per-order limit as a generic cell rate algorithm:
// tat is the order's stored theoretical arrival time. It returns the new tat
// when the resend is allowed, or when the next one will be.
func (p Policy) allowResend(tat, now time.Time) (newTAT time.Time, ok bool, next time.Time) {
	if tat.Before(now) {
		tat = now
	}
	newTAT = tat.Add(p.ResendInterval)
	limit := time.Duration(p.ResendBurst) * p.ResendInterval
	if newTAT.Sub(now) > limit {
		return time.Time{}, false, newTAT.Add(-limit)
	}
	return newTAT, true, time.Time{}
}

// String sums the policy up for status output.
func (p Policy) String() string {
	return fmt.Sprintf("random values valid %v; resends per order: burst %d, then one per %v; offered addresses usable for %v",
		p.CodeValidity, p.ResendBurst, p.ResendInterval, p.OfferWindow)
}
