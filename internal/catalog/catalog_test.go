package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltin(t *testing.T) {
	t.Parallel()
	c := Builtin()
	want := map[int]struct {
		kind  Kind
		scope Scope
	}{
		287: {DV, Single}, 289: {DV, Wildcard}, 279: {DV, Multi}, 291: {DV, Single},
		488: {DV, Single}, 489: {DV, Wildcard}, 492: {DV, Multi},
		24: {OV, Single}, 7: {OV, Single}, 35: {OV, Wildcard}, 361: {OV, Multi},
		337: {EV, Single}, 410: {EV, Multi},
		749: {DV, Single}, 750: {DV, Wildcard}, 751: {DV, Multi},
	}
	if len(c.Products()) != len(want) {
		t.Fatalf("%d products, want %d", len(c.Products()), len(want))
	}
	for code, w := range want {
		p, ok := c.Lookup(code)
		if !ok || p.Kind != w.kind || p.Scope != w.scope {
			t.Errorf("%d: %+v %v, want %s %s", code, p, ok, w.kind, w.scope)
		}
	}
	if p, _ := c.Lookup(291); p.MaxDays != 30 {
		t.Errorf("trial: maxDays %d", p.MaxDays)
	}
	if _, ok := c.Lookup(1); ok {
		t.Error("an unknown code is found")
	}
	if p, _ := c.Lookup(24); !p.OrganizationValidated() {
		t.Error("OV without organization validation")
	}
	if p, _ := c.Lookup(287); p.OrganizationValidated() {
		t.Error("DV with organization validation")
	}
	ps := c.Products()
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Code >= ps[i].Code {
			t.Fatalf("Products not in code order: %d then %d", ps[i-1].Code, ps[i].Code)
		}
	}
}

func TestYearsAndCost(t *testing.T) {
	t.Parallel()
	for days, want := range map[int]int{-5: 1, 0: 1, 1: 1, 30: 1, 365: 1, 366: 2, 398: 2, 730: 2, 731: 3} {
		if got := Years(days); got != want {
			t.Errorf("Years(%d) = %d, want %d", days, got, want)
		}
	}
	p := Product{PricePerYear: 1999}
	for days, want := range map[int]string{200: "19.99", 398: "39.98", 1095: "59.97"} {
		if got := p.Cost(days).String(); got != want {
			t.Errorf("Cost(%d) = %s, want %s", days, got, want)
		}
	}
	// 0.10 + 0.20 must be 0.30 exactly: the reason for cents.
	if got := (Product{PricePerYear: 10}).Cost(366) + 10; got.String() != "0.30" {
		t.Errorf("got %s", got)
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0": "0.00", "12": "12.00", "12.3": "12.30", "12.34": "12.34", "-1.5": "-1.50", "007.07": "7.07"} {
		m, err := ParseMoney(in)
		if err != nil || m.String() != want {
			t.Errorf("%q: %s %v, want %s", in, m, err, want)
		}
	}
	for _, in := range []string{"", ".5", "1.", "1.234", "1,5", "1e3", "abc", "--1", "+1", " 1", "1234567890123456"} {
		if _, err := ParseMoney(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	var m Money
	if err := json.Unmarshal([]byte(`9.99`), &m); err != nil || m != 999 {
		t.Errorf("number: %d %v", m, err)
	}
	if err := json.Unmarshal([]byte(`"9.9"`), &m); err != nil || m != 990 {
		t.Errorf("string: %d %v", m, err)
	}
	if b, _ := json.Marshal(Money(5)); string(b) != "0.05" {
		t.Errorf("marshal: %s", b)
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	good := `{"products": [
	  {"code": 287, "name": "PositiveSSL", "kind": "DV", "scope": "single", "maxDomains": 1, "pricePerYear": "7.50"},
	  {"code": 9001, "name": "Intranet", "kind": "OV", "scope": "multi", "maxDomains": 5, "pricePerYear": 12, "intranet": true, "maxDays": 90}
	]}`
	path := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Products()) != 2 {
		t.Fatalf("got %+v", c.Products())
	}
	if p, _ := c.Lookup(287); p.PricePerYear != 750 || p.Cost(398).String() != "15.00" {
		t.Errorf("287: %+v", p)
	}
	if p, _ := c.Lookup(9001); !p.Intranet || p.MaxDays != 90 || p.MaxDomains != 5 {
		t.Errorf("9001: %+v", p)
	}
	if _, ok := c.Lookup(289); ok {
		t.Error("the file should replace the built-in catalogue, not add to it")
	}
	// A round trip through JSON keeps the catalogue.
	b, _ := json.Marshal(file{Products: c.Products()})
	again, err := Parse(strings.NewReader(string(b)))
	if err != nil || len(again.Products()) != 2 {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseRefusals(t *testing.T) {
	t.Parallel()
	entry := func(fields string) string {
		return `{"products": [{"code": 287, "name": "P", "kind": "DV", "scope": "single", "maxDomains": 1, "pricePerYear": "1.00"` + fields + `}]}`
	}
	for name, tc := range map[string]struct{ json, want string }{
		"not json":        {`{`, "unexpected EOF"},
		"two values":      {entry("") + entry(""), "more than one"},
		"no products":     {`{"products": []}`, "no products"},
		"unknown field":   {entry(`, "price": 3`), `unknown field "price"`},
		"bad kind":        {entry(`, "kind": "XV"`), `kind "XV": want DV, OV or EV`},
		"bad scope":       {entry(`, "scope": "many"`), `scope "many"`},
		"single with 2":   {entry(`, "maxDomains": 2`), "a single product has exactly 1"},
		"multi with 1":    {entry(`, "scope": "multi"`), "a multi-domain product has 2 to 1000"},
		"negative price":  {entry(`, "pricePerYear": "-1"`), "must not be negative"},
		"three decimals":  {entry(`, "pricePerYear": "1.005"`), "at most two decimals"},
		"float notation":  {entry(`, "pricePerYear": 1e2`), "at most two decimals"},
		"no name":         {entry(`, "name": " "`), "name is empty"},
		"code zero":       {entry(`, "code": 0`), "code 0: want 1 to 999999"},
		"negative days":   {entry(`, "maxDays": -1`), "maxDays -1"},
		"ev wildcard":     {`{"products": [{"code": 5, "name": "E", "kind": "EV", "scope": "wildcard", "maxDomains": 1, "pricePerYear": "1"}]}`, "EV product cannot be wildcard"},
		"duplicate code":  {`{"products": [{"code": 5, "name": "A", "kind": "DV", "scope": "single", "maxDomains": 1, "pricePerYear": "1"}, {"code": 5, "name": "B", "kind": "DV", "scope": "single", "maxDomains": 1, "pricePerYear": "1"}]}`, "product 2: code 5 appears twice"},
		"names the entry": {entry(`, "kind": "dv"`), "product 1 (code 287)"},
	} {
		_, err := Parse(strings.NewReader(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file is accepted")
	}
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"products": 3}`), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name the file", err)
	}
}
