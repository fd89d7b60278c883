package catalog

// builtin is the catalogue when the operator gives none: the vendor's
// product codes that resellers' code sends (docs/api.md, products). The
// prices are placeholders for an operator's catalogue file to replace.
var builtin = []Product{
	{Code: 287, Name: "PositiveSSL", Kind: DV, Scope: Single, MaxDomains: 1, PricePerYear: 1000},
	{Code: 289, Name: "PositiveSSL Wildcard", Kind: DV, Scope: Wildcard, MaxDomains: 1, PricePerYear: 9000},
	{Code: 279, Name: "PositiveSSL Multi-Domain", Kind: DV, Scope: Multi, MaxDomains: 250, PricePerYear: 3000},
	{Code: 291, Name: "PositiveSSL Trial", Kind: DV, Scope: Single, MaxDomains: 1, PricePerYear: 0, MaxDays: 30},
	{Code: 488, Name: "SectigoSSL", Kind: DV, Scope: Single, MaxDomains: 1, PricePerYear: 1500},
	{Code: 489, Name: "SectigoSSL Wildcard", Kind: DV, Scope: Wildcard, MaxDomains: 1, PricePerYear: 10000},
	{Code: 492, Name: "SectigoSSL UCC", Kind: DV, Scope: Multi, MaxDomains: 250, PricePerYear: 4000},
	{Code: 24, Name: "InstantSSL", Kind: OV, Scope: Single, MaxDomains: 1, PricePerYear: 5000},
	{Code: 7, Name: "InstantSSL Premium", Kind: OV, Scope: Single, MaxDomains: 1, PricePerYear: 7000},
	{Code: 35, Name: "InstantSSL Wildcard", Kind: OV, Scope: Wildcard, MaxDomains: 1, PricePerYear: 20000},
	{Code: 361, Name: "InstantSSL UCC", Kind: OV, Scope: Multi, MaxDomains: 250, PricePerYear: 15000},
	{Code: 337, Name: "EV SSL", Kind: EV, Scope: Single, MaxDomains: 1, PricePerYear: 25000},
	{Code: 410, Name: "EV Multi-Domain", Kind: EV, Scope: Multi, MaxDomains: 250, PricePerYear: 40000},
	{Code: 749, Name: "EnterpriseSSL", Kind: DV, Scope: Single, MaxDomains: 1, PricePerYear: 2000},
	{Code: 750, Name: "EnterpriseSSL Wildcard", Kind: DV, Scope: Wildcard, MaxDomains: 1, PricePerYear: 12000},
	{Code: 751, Name: "EnterpriseSSL Multi-Domain", Kind: DV, Scope: Multi, MaxDomains: 250, PricePerYear: 5000},
}

// Builtin is the built-in catalogue.
func Builtin() *Catalog {
	c, err := New(builtin)
	if err != nil {
		panic(err) // the table above is wrong; TestBuiltin says how
	}
	return c
}
