package contacts

import (
	"context"
	"strings"

	"github.com/miekg/dns"
)

// CAA outcomes (BR 3.2.2.8, RFC 8659).
const (
	CAAPermitted = "ok"        // no relevant record set, or one naming an issuer domain of ours
	CAAForbidden = "forbidden" // the relevant record set forbids issuance by us
	CAAUnchecked = "unchecked" // DNS is off: nothing was looked up
	CAAFailed    = "failed"    // too few resolvers answered; issuance waits and may be retried
)

// CAAResult is the outcome of a CAA check of one name.
type CAAResult struct {
	Status string
	// Reason says why, for the reseller and the operator (no + % & =).
	Reason string
}

// knownCAATags are the property tags a CA understands (RFC 8659 4.2 and
// the CA/Browser Forum's additions); an unknown tag with the critical flag
// forbids issuance (RFC 8659 4.1).
var knownCAATags = map[string]bool{"issue": true, "issuewild": true, "iodef": true,
	CAAContactTag: true, "contactphone": true, "issuemail": true, "issuevmc": true}

// CheckCAA applies RFC 8659 to name (a normalized FQDN, with a leading
// "*." for a wildcard certificate) with every resolver: the relevant record
// set is the first non-empty one climbing from the name to the root; it
// permits issuance by a CA whose issuer domain is in identities. Every
// resolver that answers must permit; at least the quorum must answer.
func (f *Finder) CheckCAA(ctx context.Context, name string, identities []string) CAAResult {
	if len(f.resolvers) == 0 {
		return CAAResult{Status: CAAUnchecked, Reason: "DNS is off"}
	}
	wild := strings.HasPrefix(name, "*.")
	fqdn := strings.TrimPrefix(name, "*.")
	levels := caaLevels(fqdn)
	answered := 0
	var failure string
	for _, server := range f.resolvers {
		rrs, err := f.relevantCAA(ctx, server, levels)
		if err != nil {
			failure = warning("CAA lookup via " + server + " failed: " + err.Error())
			continue
		}
		answered++
		if why := caaForbids(rrs, wild, identities); why != "" {
			return CAAResult{Status: CAAForbidden, Reason: warning(name + ": " + why)}
		}
	}
	if answered < f.quorum {
		return CAAResult{Status: CAAFailed, Reason: failure}
	}
	return CAAResult{Status: CAAPermitted}
}

// relevantCAA climbs levels and returns the first non-empty CAA record set.
func (f *Finder) relevantCAA(ctx context.Context, server string, levels []string) ([]*dns.CAA, error) {
	for _, level := range levels {
		rrs, err := f.resolve(ctx, server, level, dns.TypeCAA)
		if err != nil {
			return nil, err
		}
		var set []*dns.CAA
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CAA); ok {
				set = append(set, c)
			}
		}
		if len(set) > 0 {
			return set, nil
		}
	}
	return nil, nil
}

// caaForbids says why a relevant record set forbids issuance, or "".
func caaForbids(set []*dns.CAA, wild bool, identities []string) string {
	for _, c := range set {
		if c.Flag&128 != 0 && !knownCAATags[strings.ToLower(c.Tag)] {
			return "CAA record with the critical flag and unknown tag " + c.Tag
		}
	}
	tag := "issue"
	if wild && hasTag(set, "issuewild") {
		tag = "issuewild"
	}
	if !hasTag(set, tag) {
		return ""
	}
	for _, c := range set {
		if !strings.EqualFold(c.Tag, tag) {
			continue
		}
		domain, _, _ := strings.Cut(c.Value, ";")
		domain = strings.ToLower(strings.TrimSpace(domain))
		for _, id := range identities {
			if domain != "" && domain == strings.ToLower(id) {
				return ""
			}
		}
	}
	return "CAA " + tag + " records name no issuer domain of this CA"
}

func hasTag(set []*dns.CAA, tag string) bool {
	for _, c := range set {
		if strings.EqualFold(c.Tag, tag) {
			return true
		}
	}
	return false
}
