package api

import (
	"fmt"
	"net/http"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// addressList serves !GetDCVEmailAddressList (docs/api.md §3).
func (h *Handler) addressList(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &addressListEndpoint)
	if !ok {
		return
	}
	list, err := h.dcv.AddressList(r.Context(), acct, a.str("domainName"), a.int("product"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if c.format == wire.FormatJSON {
		h.write(w, c, wire.EncodeJSON(addressListJSON(list)))
		return
	}
	h.write(w, c, wire.EncodeText(addressListText(list)))
}

// addressListText is the text format: the DNS contacts appear only in JSON,
// as on the vendor's service.
func addressListText(l contacts.List) []wire.Pair {
	pairs := []wire.Pair{{Name: "domain_name", Value: l.Domain}, {Name: "whois_email", Value: "none"}}
	for _, a := range l.Constructed {
		pairs = append(pairs, wire.Pair{Name: fmt.Sprintf("level%d_email", a.Level), Value: a.Mailbox})
	}
	return pairs
}

func addressListJSON(l contacts.List) []wire.Field {
	fields := []wire.Field{
		{Key: "errorCode", Value: 0},
		{Key: "domainName", Value: l.Domain},
		{Key: "whoisEmail", Value: []string{}},
	}
	for _, a := range l.Constructed {
		key := fmt.Sprintf("level%dEmails", a.Level)
		last := &fields[len(fields)-1]
		if last.Key != key {
			fields = append(fields, wire.Field{Key: key, Value: []string{}})
			last = &fields[len(fields)-1]
		}
		last.Value = append(last.Value.([]string), a.Mailbox)
	}
	fields = append(fields,
		wire.Field{Key: "dnsTxtEmails", Value: mailboxes(l.TXT)},
		wire.Field{Key: "caaEmails", Value: mailboxes(l.CAA)})
	if len(l.Warnings) > 0 {
		fields = append(fields, wire.Field{Key: "warnings", Value: l.Warnings})
	}
	return fields
}

func mailboxes(as []contacts.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Mailbox
	}
	return out
}
