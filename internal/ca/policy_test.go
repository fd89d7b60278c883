package ca

import (
	"testing"
	"time"
)

func TestStepsAt(t *testing.T) {
	t.Parallel()
	sec := time.Second
	for _, tc := range []struct {
		at                 time.Time
		max, issued, reuse int
	}{
		{date("2020-01-01"), 398, 397, 398},
		{date("2026-03-15").Add(-sec), 398, 397, 398},
		{date("2026-03-15"), 200, 199, 200},
		{date("2027-03-15").Add(-sec), 200, 199, 200},
		{date("2027-03-15"), 100, 99, 100},
		{date("2029-03-15").Add(-sec), 100, 99, 100},
		{date("2029-03-15"), 47, 46, 10},
		{date("2040-01-01"), 47, 46, 10},
	} {
		if got := MaxValidity.At(tc.at); got != tc.max {
			t.Errorf("MaxValidity at %s: %d, want %d", tc.at, got, tc.max)
		}
		if got := RecommendedValidity.At(tc.at); got != tc.issued {
			t.Errorf("RecommendedValidity at %s: %d, want %d", tc.at, got, tc.issued)
		}
		if got := ReusePeriod.At(tc.at); got != tc.reuse {
			t.Errorf("ReusePeriod at %s: %d, want %d", tc.at, got, tc.reuse)
		}
	}
}

func TestValidityDays(t *testing.T) {
	t.Parallel()
	before, after := date("2026-03-14"), date("2026-03-15")
	for _, tc := range []struct {
		asked, productMax int
		at                time.Time
		want              int
	}{
		{0, 0, before, 397}, {365, 0, before, 365}, {398, 0, before, 397}, {730, 0, before, 397},
		{0, 0, after, 199}, {365, 0, after, 199}, {90, 0, after, 90},
		{365, 30, after, 30}, {0, 30, after, 30}, {10, 30, after, 10}, {-1, 0, after, 199},
	} {
		if got := ValidityDays(tc.asked, tc.productMax, tc.at); got != tc.want {
			t.Errorf("ValidityDays(%d, %d, %s) = %d, want %d", tc.asked, tc.productMax, tc.at.Format(time.DateOnly), got, tc.want)
		}
	}
}

func TestReuseValid(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	now := date("2026-06-01")
	for _, tc := range []struct {
		validated time.Time
		want      bool
	}{
		{now.Add(-200 * day), true},
		{now.Add(-200*day - time.Second), false},
		{now.Add(time.Hour), false}, // from the future: a clock went wrong
	} {
		if got := ReuseValid(tc.validated, now); got != tc.want {
			t.Errorf("validated %s: %v, want %v", tc.validated, got, tc.want)
		}
	}
	// The period in force at the time of use counts: 300 days old is fine
	// on 2026-03-14 and too old a day later.
	v := date("2025-05-20")
	if !ReuseValid(v, date("2026-03-14")) || ReuseValid(v, date("2026-03-15")) {
		t.Error("the reuse period does not follow the date of use")
	}
	if !ReuseValid(date("2029-03-06"), date("2029-03-15")) || ReuseValid(date("2029-03-04"), date("2029-03-15")) {
		t.Error("10 days from 2029-03-15")
	}
}

// Certificates issued on each side of each date get the validity of their
// date, and each passes the linter, whose own dated lints agree.
func TestIssueValidityAtEachBoundary(t *testing.T) {
	t.Parallel()
	c, clk := caAt(t, date("2025-06-01"))
	for _, tc := range []struct {
		at   time.Time
		days int
	}{
		{date("2025-06-01"), 397},
		{date("2026-03-15").Add(-time.Second), 397},
		{date("2026-03-15"), 199},
		{date("2027-03-15").Add(-time.Second), 199},
		{date("2027-03-15"), 99},
		{date("2029-03-15").Add(-time.Second), 99},
		{date("2029-03-15"), 46},
	} {
		clk.Set(tc.at)
		leaf, err := c.Issue(IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: DV, Days: 500})
		if err != nil {
			t.Fatalf("%s: %v", tc.at, err)
		}
		if !leaf.NotBefore.Equal(tc.at) {
			t.Errorf("%s: notBefore %s", tc.at, leaf.NotBefore)
		}
		// RFC 5280 validity counts both ends: notAfter - notBefore + 1s.
		got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second
		if got != time.Duration(tc.days)*24*time.Hour {
			t.Errorf("%s: validity %v, want %d days", tc.at, got, tc.days)
		}
		verify(t, c, leaf, tc.at)
	}
}

// The linter itself refuses a validity past the date's maximum: the cap is
// not the only guard.
func TestLintRefusesOverlongValidity(t *testing.T) {
	t.Parallel()
	c, clk := caAt(t, date("2026-01-01"))
	clk.Set(date("2027-03-15"))
	tmpl, err := c.leafTemplate(IssueRequest{PublicKey: ecKey().Public(), Names: []string{"example.com"}, Validation: DV})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.NotAfter = tmpl.NotBefore.Add(101 * 24 * time.Hour)
	if _, err := c.lint.sign(tmpl, c.Issuer(), ecKey().Public(), c.key); !IsLintError(err) {
		t.Fatalf("101 days on 2027-03-15: %v", err)
	}
}
