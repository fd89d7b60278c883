package ca

import "time"

// Step is one dated value of a rule: Days applies to what happens on or
// after From (UTC), until the next step.
type Step struct {
	From time.Time
	Days int
}

// Steps is a dated rule, its steps in ascending order of From; the first
// step's From is the zero time.
type Steps []Step

// At is the rule's value at t: the Days of the last step that began on or
// before t.
func (s Steps) At(t time.Time) int {
	days := 0
	for _, st := range s {
		if t.Before(st.From) {
			break
		}
		days = st.Days
	}
	return days
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// MaxValidity is the longest validity of a TLS subscriber certificate, in
// days, by the date of issuance (CA/Browser Forum ballot SC-081, BR
// 6.3.2): 398 days, 200 from 2026-03-15, 100 from 2027-03-15, 47 from
// 2029-03-15.
var MaxValidity = Steps{
	{time.Time{}, 398},
	{date("2026-03-15"), 200},
	{date("2027-03-15"), 100},
	{date("2029-03-15"), 47},
}

// RecommendedValidity is the validity the BR say a certificate SHOULD NOT
// exceed, one day under MaxValidity at each date: 397, 199, 99, 46. The CA
// issues at most this, since zlint warns above it and a warning stops
// issuance.
var RecommendedValidity = Steps{
	{time.Time{}, 397},
	{date("2026-03-15"), 199},
	{date("2027-03-15"), 99},
	{date("2029-03-15"), 46},
}

// ReusePeriod is how long a domain validation may be relied on for a later
// certificate, in days, by the date of issuance (BR 4.2.1, ballot SC-081):
// 398 days, 200 from 2026-03-15, 100 from 2027-03-15, 10 from 2029-03-15.
var ReusePeriod = Steps{
	{time.Time{}, 398},
	{date("2026-03-15"), 200},
	{date("2027-03-15"), 100},
	{date("2029-03-15"), 10},
}

// ValidityDays is the validity an order gets: the days asked for, capped by
// the product's own maximum (productMax, 0 for none) and by
// RecommendedValidity at the time of issuance (so never above
// MaxValidity). Asking for nothing (0 or less) gets the most.
func ValidityDays(asked, productMax int, now time.Time) int {
	limit := RecommendedValidity.At(now)
	if productMax > 0 && productMax < limit {
		limit = productMax
	}
	if asked <= 0 || asked > limit {
		return limit
	}
	return asked
}

// ReuseValid reports whether a domain validation done at validated may
// still be relied on at now.
func ReuseValid(validated, now time.Time) bool {
	return !now.Before(validated) && now.Sub(validated) <= time.Duration(ReusePeriod.At(now))*24*time.Hour
}
