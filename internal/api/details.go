package api

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// The values of dcvStatus (docs/api.md §4).
const (
	statusAwaiting  = "Awaiting Validation"
	statusValidated = "Validated"
)

// details serves !GetMDCDomainDetails (docs/api.md §4): one group of
// keys per domain, indexed from 1 in the order's order. Read-only accounts
// may call it.
func (h *Handler) details(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &detailsEndpoint)
	if !ok {
		return
	}
	states, err := h.dcv.DomainStates(r.Context(), acct, a.int("orderNumber"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	showDetails := a.str("showStatusDetails") == "Y"
	if c.format == wire.FormatJSON {
		h.write(w, c, wire.EncodeJSON(detailsJSON(states, showDetails)))
		return
	}
	h.write(w, c, wire.EncodeForm(detailsForm(states, showDetails)))
}

// domainFields are the keys of one domain's group, in order: the contract's
// three, then with showStatusDetails=Y the contract's three details and
// dcvmail's evidence of the last delivery attempt.
func domainFields(s dcv.DomainState, showDetails bool) []wire.Pair {
	status := statusAwaiting
	if !s.Validated.IsZero() {
		status = statusValidated
	}
	p := []wire.Pair{
		{Name: "domainName", Value: s.Name},
		{Name: "dcvMethod", Value: string(s.Method)},
		{Name: "dcvStatus", Value: status},
	}
	if showDetails {
		p = append(p,
			wire.Pair{Name: "dcvEmailAddress", Value: s.Recipient},
			wire.Pair{Name: "lastSentAt", Value: rfc3339(s.LastSentAt)},
			wire.Pair{Name: "validatedAt", Value: rfc3339(s.Validated)},
			wire.Pair{Name: "lastDeliveryStatus", Value: s.LastDelivery},
			wire.Pair{Name: "lastDeliveryReply", Value: s.LastReply},
		)
	}
	return p
}

// detailsForm is the form encoding: errorCode=0&1_domainName=...&1_...
func detailsForm(states []dcv.DomainState, showDetails bool) []wire.Pair {
	pairs := []wire.Pair{{Name: "errorCode", Value: "0"}}
	for i, s := range states {
		prefix := strconv.Itoa(i+1) + "_"
		for _, f := range domainFields(s, showDetails) {
			pairs = append(pairs, wire.Pair{Name: prefix + f.Name, Value: f.Value})
		}
	}
	return pairs
}

// detailsJSON is dcvmail's JSON (the vendor's is unpublished): the same
// keys without index, one object per domain in a "domains" array.
func detailsJSON(states []dcv.DomainState, showDetails bool) []wire.Field {
	domains := make([]object, len(states))
	for i, s := range states {
		for _, f := range domainFields(s, showDetails) {
			domains[i] = append(domains[i], wire.Field{Key: f.Name, Value: f.Value})
		}
	}
	return []wire.Field{{Key: "errorCode", Value: 0}, {Key: "domains", Value: domains}}
}

// object is a JSON object whose keys keep their order.
type object []wire.Field

func (o object) MarshalJSON() ([]byte, error) {
	return bytes.TrimSuffix(wire.EncodeJSON(o), []byte("\n")), nil
}

// rfc3339 writes a time in UTC, or "" for none.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
