package dcv

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// Rule is one dated change of the CA/Browser Forum rules that bears on
// email DCV (docs/rules.md, "Dates the policy must know").
type Rule struct {
	ID     string    `json:"id"`
	From   time.Time `json:"from"`
	Source string    `json:"source"`
	Text   string    `json:"text"`
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Timeline is the built-in table of dated rules. The operator may move a
// date or add a rule with a policy file (see LoadTimeline).
var Timeline = []Rule{
	{"whois-retired", day("2025-07-15"), "BR 3.2.2.4.2", "WHOIS-based email contacts are retired and never offered"},
	{"email-should-not", day("2026-03-15"), "BR 3.2.2.4", "email methods SHOULD NOT be used for new subscriber certificates"},
	{"dnssec-contacts", day("2026-03-15"), "BR 3.2.2.4", "CNAME, CAA and TXT lookups that find a contact must be DNSSEC-validated"},
	{"reuse-200-days", day("2026-03-15"), "BR 4.2.1", "domain validation may be reused for at most 200 days"},
	{"mpic-5-perspectives", day("2026-12-15"), "BR 3.2.2.9", "contacts found in DNS must be corroborated from 5 remote network perspectives"},
	{"reuse-100-days", day("2027-03-15"), "BR 4.2.1", "domain validation may be reused for at most 100 days"},
	{"email-must-not", day("2028-03-15"), "BR 3.2.2.4", "email methods MUST NOT be used, and earlier email validations MUST NOT be relied on"},
	{"reuse-10-days", day("2029-03-15"), "BR 4.2.1", "domain validation may be reused for at most 10 days"},
}

// LoadTimeline returns the built-in timeline with the rules of a JSON file
// (an array of {"id", "from", "source", "text"}) put in: a rule with a known
// id moves that rule's date, a new id adds a rule.
func LoadTimeline(path string) ([]Rule, error) {
	out := append([]Rule(nil), Timeline...)
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var over []struct {
		ID, Source, Text string
		From             string
	}
	if err := json.Unmarshal(b, &over); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range over {
		from, err := time.Parse(time.DateOnly, o.From)
		if err != nil || o.ID == "" {
			return nil, fmt.Errorf("%s: rule %q: want an id and a from date as YYYY-MM-DD", path, o.ID)
		}
		found := false
		for i := range out {
			if out[i].ID == o.ID {
				out[i].From, found = from, true
			}
		}
		if !found {
			out = append(out, Rule{ID: o.ID, From: from, Source: o.Source, Text: o.Text})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out, nil
}

// RuleState is a rule and whether it is in force at a time.
type RuleState struct {
	Rule
	InForce bool `json:"inForce"`
}

// RulesAt reports every rule of a timeline and whether it is in force at t.
func RulesAt(timeline []Rule, t time.Time) []RuleState {
	out := make([]RuleState, len(timeline))
	for i, r := range timeline {
		out[i] = RuleState{r, !t.Before(r.From)}
	}
	return out
}

// InForce reports whether the rule id is in force at t.
func InForce(timeline []Rule, id string, t time.Time) bool {
	for _, r := range timeline {
		if r.ID == id {
			return !t.Before(r.From)
		}
	}
	return false
}
