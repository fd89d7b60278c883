package dcv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// docs/rules.md: the dates are data, read against the clock.
func TestTimelineInForce(t *testing.T) {
	before := time.Date(2026, 3, 14, 23, 59, 59, 0, time.UTC)
	on := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	if InForce(Timeline, "dnssec-contacts", before) || !InForce(Timeline, "dnssec-contacts", on) {
		t.Fatal("dnssec-contacts must start on 2026-03-15")
	}
	if InForce(Timeline, "email-must-not", time.Date(2028, 3, 14, 0, 0, 0, 0, time.UTC)) ||
		!InForce(Timeline, "email-must-not", time.Date(2028, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("email-must-not must start on 2028-03-15")
	}
	states := RulesAt(Timeline, on)
	if len(states) != len(Timeline) || !states[1].InForce || states[len(states)-1].InForce {
		t.Fatalf("%+v", states)
	}
}

func TestLoadTimelineOverrides(t *testing.T) {
	p := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(p, []byte(`[{"id":"email-must-not","from":"2027-01-01"},{"id":"house-rule","from":"2026-01-01","source":"CPS 4.2","text":"our own"}]`), 0o600)
	tl, err := LoadTimeline(p)
	if err != nil {
		t.Fatal(err)
	}
	if !InForce(tl, "email-must-not", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || !InForce(tl, "house-rule", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("overrides not applied")
	}
	if InForce(Timeline, "email-must-not", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("the built-in table changed")
	}
	os.WriteFile(p, []byte(`[{"id":"x","from":"soon"}]`), 0o600)
	if _, err := LoadTimeline(p); err == nil {
		t.Fatal("bad date accepted")
	}
}
