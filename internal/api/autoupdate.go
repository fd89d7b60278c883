package api

import (
	"net/http"
	"strings"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// autoUpdate serves !AutoUpdateDCV (docs/api.md §5). The parameter
// checks of autoUpdateEndpoint have settled the shape of the call: one
// domain or a list, lists of equal length, an address wherever the method
// is EMAIL.
func (h *Handler) autoUpdate(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &autoUpdateEndpoint)
	if !ok {
		return
	}
	req := dcv.AutoUpdateRequest{
		Account:         acct,
		OrderNumber:     a.int("orderNumber"),
		BaseOrderNumber: a.int("baseOrderNumber"),
		TemplateID:      a.int("dcvTemplateID"),
	}
	if names := strings.Fields(a.str("domainNames")); len(names) > 0 {
		req.Plural = true
		methods := strings.Split(a.str("newMethods"), ",")
		addresses := strings.Fields(a.str("newDCVEmailAddresses"))
		for i, name := range names {
			ch := dcv.MethodChange{Domain: name, Method: model.Method(methods[i])}
			if ch.Method == model.MethodEmail {
				ch.Mailbox = addresses[i]
			}
			req.Changes = append(req.Changes, ch)
		}
	} else {
		ch := dcv.MethodChange{Domain: a.str("domainName"), Method: model.Method(a.str("newMethod"))}
		if ch.Method == model.MethodEmail {
			ch.Mailbox = a.str("newDCVEmailAddress")
		}
		req.Changes = []dcv.MethodChange{ch}
	}
	if err := h.dcv.AutoUpdate(r.Context(), req); err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.write(w, c, wire.Success)
}

// The checks of autoUpdateEndpoint. Each sees the request's values as sent.

// singular wraps the check of a one-domain parameter: it is refused beside
// domainNames, since a call names one domain or a list, not both.
func singular(check func(string) (string, bool)) func(string, map[string]string) (string, bool) {
	return func(v string, values map[string]string) (string, bool) {
		if values["domainNames"] != "" {
			return "", false
		}
		return check(v)
	}
}

// domainKey normalizes a domain name as dcv.MethodChange wants it: an FQDN
// that can be validated, in lowercase A-labels, keeping a leading "*.".
func domainKey(v string) (string, bool) {
	d, err := contacts.Normalize(v)
	if err != nil {
		return "", false
	}
	if strings.HasPrefix(strings.TrimSpace(v), "*.") {
		d = "*." + d
	}
	return d, true
}

// method accepts a DCV method in any case.
func method(v string) (string, bool) {
	m := model.Method(strings.ToUpper(strings.TrimSpace(v)))
	return string(m), m.Known()
}

// isEmail tells whether a raw method value is EMAIL.
func isEmail(v string) bool {
	return strings.EqualFold(strings.TrimSpace(v), string(model.MethodEmail))
}

// singleEmail: newDCVEmailAddress is required when the one new method is
// EMAIL.
func singleEmail(values map[string]string) bool {
	return values["domainNames"] == "" && isEmail(values["newMethod"])
}

// singleAddress checks newDCVEmailAddress where it counts (with EMAIL); with
// another method the address is ignored.
func singleAddress(v string, values map[string]string) (string, bool) {
	if values["domainNames"] != "" {
		return "", false
	}
	if !isEmail(values["newMethod"]) {
		return "", true
	}
	m, err := contacts.NormalizeMailbox(v)
	return m, err == nil
}

func givenNone(names ...string) func(map[string]string) bool {
	given := givenAny(names...)
	return func(values map[string]string) bool { return !given(values) }
}

func givenAny(names ...string) func(map[string]string) bool {
	return func(values map[string]string) bool {
		for _, n := range names {
			if values[n] != "" {
				return true
			}
		}
		return false
	}
}

// domainList: names separated by white space, each one that can be
// validated, none twice.
func domainList(v string, _ map[string]string) (string, bool) {
	names := strings.Fields(v)
	seen := map[string]bool{}
	for i, n := range names {
		k, ok := domainKey(n)
		if !ok || seen[k] {
			return "", false
		}
		seen[k], names[i] = true, k
	}
	return strings.Join(names, " "), len(names) > 0
}

// methodList: methods separated by commas, one per name of domainNames.
func methodList(v string, values map[string]string) (string, bool) {
	methods := strings.Split(v, ",")
	if len(methods) != len(strings.Fields(values["domainNames"])) {
		return "", false
	}
	for i, m := range methods {
		var ok bool
		if methods[i], ok = method(m); !ok {
			return "", false
		}
	}
	return strings.Join(methods, ","), true
}

// listEmail: newDCVEmailAddresses is required when a method of newMethods
// is EMAIL.
func listEmail(values map[string]string) bool {
	if values["domainNames"] == "" {
		return false
	}
	for _, m := range strings.Split(values["newMethods"], ",") {
		if isEmail(m) {
			return true
		}
	}
	return false
}

// addressList: addresses separated by white space, one per name of
// domainNames; the i-th goes with the i-th name. An entry whose method is
// not EMAIL is a placeholder and is ignored (write "-").
func addressList(v string, values map[string]string) (string, bool) {
	addresses := strings.Fields(v)
	methods := strings.Split(values["newMethods"], ",")
	if values["domainNames"] == "" || len(addresses) != len(strings.Fields(values["domainNames"])) || len(methods) != len(addresses) {
		return "", false
	}
	for i, a := range addresses {
		if !isEmail(methods[i]) {
			addresses[i] = "-"
			continue
		}
		m, err := contacts.NormalizeMailbox(a)
		if err != nil {
			return "", false
		}
		addresses[i] = m
	}
	return strings.Join(addresses, " "), true
}
