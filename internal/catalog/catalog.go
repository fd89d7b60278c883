// Package catalog is the product catalogue of AutoApplySSL: which product
// codes exist, what each sells (DV, OV or EV; one name, a wildcard or many
// names) and at what price. A catalogue is built in (Builtin) and the
// operator replaces it whole with a JSON file (--product-catalog, Load).
//
// Money is kept in integer cents: prices and costs never pass through
// floating point.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Kind is the validation a product needs before issuance.
type Kind string

// The kinds. DV needs domain control only; OV and EV wait for organization
// validation as well.
const (
	DV Kind = "DV"
	OV Kind = "OV"
	EV Kind = "EV"
)

// Scope is how many names a product's certificate holds.
type Scope string

// The scopes. A single-domain certificate holds one name (and its "www."
// companion), a wildcard one "*.name" (and the bare name), a multi-domain
// one up to MaxDomains names.
const (
	Single   Scope = "single"
	Wildcard Scope = "wildcard"
	Multi    Scope = "multi"
)

// Product is one entry of the catalogue.
type Product struct {
	Code  int    `json:"code"`
	Name  string `json:"name"`
	Kind  Kind   `json:"kind"`
	Scope Scope  `json:"scope"`
	// MaxDomains is the most names an order may ask for: 1 for single and
	// wildcard products.
	MaxDomains int `json:"maxDomains"`
	// PricePerYear is in the account's currency.
	PricePerYear Money `json:"pricePerYear"`
	// MaxDays caps the validity below the policy's dated maximum (a trial
	// product); 0 means the policy's maximum alone.
	MaxDays int `json:"maxDays,omitempty"`
	// Intranet products take names that are not FQDNs and private IP
	// addresses (the CSR checks -18 and -19); none is built in.
	Intranet bool `json:"intranet,omitempty"`
}

// OrganizationValidated reports whether an order for p waits for
// organization validation.
func (p Product) OrganizationValidated() bool { return p.Kind != DV }

// Cost is what an order of p for a validity of days costs: the yearly price
// times the whole years the days span, rounded up (398 days are two
// years), at least one year. See Years.
func (p Product) Cost(days int) Money {
	return p.PricePerYear * Money(Years(days))
}

// Years is the number of whole years that days span, rounded up, at least
// one: 1 to 365 days are one year, 366 to 730 two.
func Years(days int) int {
	if days <= 0 {
		return 1
	}
	return (days + 364) / 365
}

// Catalog is a set of products by code. It is read-only once made, so one
// value is safe to share.
type Catalog struct {
	byCode map[int]Product
	codes  []int
}

// Lookup returns the product with this code; false means the API answers
// -4 on product.
func (c *Catalog) Lookup(code int) (Product, bool) {
	p, ok := c.byCode[code]
	return p, ok
}

// Products lists the catalogue by ascending code.
func (c *Catalog) Products() []Product {
	out := make([]Product, len(c.codes))
	for i, code := range c.codes {
		out[i] = c.byCode[code]
	}
	return out
}

// New makes a catalogue of products after checking each (see Check) and
// that no code repeats.
func New(products []Product) (*Catalog, error) {
	if len(products) == 0 {
		return nil, errors.New("catalog: no products")
	}
	c := &Catalog{byCode: make(map[int]Product, len(products))}
	for i, p := range products {
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("catalog: product %d (code %d): %w", i+1, p.Code, err)
		}
		if _, dup := c.byCode[p.Code]; dup {
			return nil, fmt.Errorf("catalog: product %d: code %d appears twice", i+1, p.Code)
		}
		c.byCode[p.Code] = p
		c.codes = append(c.codes, p.Code)
	}
	sort.Ints(c.codes)
	return c, nil
}

// Check refuses a product that cannot be sold: a code outside 1–999999, no
// name, an unknown kind or scope, a domain count that does not fit the
// scope, a negative price, a negative maximum validity, or an EV wildcard
// (the EV Guidelines forbid wildcards) or intranet product.
func (p Product) Check() error {
	switch {
	case p.Code < 1 || p.Code > 999999:
		return fmt.Errorf("code %d: want 1 to 999999", p.Code)
	case strings.TrimSpace(p.Name) == "":
		return errors.New("name is empty")
	case p.Kind != DV && p.Kind != OV && p.Kind != EV:
		return fmt.Errorf("kind %q: want DV, OV or EV", p.Kind)
	case p.Scope != Single && p.Scope != Wildcard && p.Scope != Multi:
		return fmt.Errorf("scope %q: want single, wildcard or multi", p.Scope)
	case p.Scope != Multi && p.MaxDomains != 1:
		return fmt.Errorf("maxDomains %d: a %s product has exactly 1", p.MaxDomains, p.Scope)
	case p.Scope == Multi && (p.MaxDomains < 2 || p.MaxDomains > 1000):
		return fmt.Errorf("maxDomains %d: a multi-domain product has 2 to 1000", p.MaxDomains)
	case p.PricePerYear < 0:
		return fmt.Errorf("pricePerYear %s: must not be negative", p.PricePerYear)
	case p.MaxDays < 0:
		return fmt.Errorf("maxDays %d: must not be negative", p.MaxDays)
	case p.Kind == EV && (p.Scope == Wildcard || p.Intranet):
		return errors.New("an EV product cannot be wildcard or intranet (EV Guidelines 9.2.1)")
	}
	return nil
}

// file is the JSON form of a catalogue file.
type file struct {
	Products []Product `json:"products"`
}

// Parse reads a catalogue from JSON: {"products": [{"code": 287, "name":
// "PositiveSSL", "kind": "DV", "scope": "single", "maxDomains": 1,
// "pricePerYear": "9.99"}, ...]}. Prices are strings or numbers with at most
// two decimals. Unknown fields are refused, so a misspelt one is not
// silently ignored.
func Parse(r io.Reader) (*Catalog, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if dec.More() {
		return nil, errors.New("catalog: more than one JSON value")
	}
	return New(f.Products)
}

// Load reads a catalogue file (see Parse); errors name the file.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Money is an amount in cents.
type Money int64

// ParseMoney reads "12", "12.3" or "12.34" (an optional minus sign, at most
// two decimals) without floating point.
func ParseMoney(s string) (Money, error) {
	bad := fmt.Errorf("amount %q: want digits with at most two decimals, like 12.34", s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || (dot && frac == "") || !digits(whole) || !digits(frac) || len(whole) > 15 {
		return 0, bad
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, bad
	}
	m := Money(w*100 + f)
	if neg {
		m = -m
	}
	return m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String is the amount with two decimals, as totalCost is answered.
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

// MarshalJSON writes the amount as a JSON number with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON string or number with at most two decimals.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
