package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// kind is the syntax a parameter's value must have.
type kind int

const (
	text    kind = iota // any characters but controls
	integer             // a positive decimal integer
	mailbox             // one bare mailbox; normalized
	domain              // an FQDN or *.FQDN that can be validated; normalized
	format              // responseFormat: 1 or 2
	yesNo               // Y or N
)

// param is one row of an endpoint's parameter table.
type param struct {
	name     string
	required bool
	// unless names a parameter whose presence makes this one optional
	// (orderNumber / baseOrderNumber).
	unless string
	max    int // characters; 0 for no limit beyond the body's
	kind   kind
	// requiredIf makes the parameter required when it holds for the
	// request's other values (raw, as sent), checked with the required ones.
	requiredIf func(values map[string]string) bool
	// validate, when set, checks and normalizes the value instead of kind;
	// it sees the request's other values (raw, as sent) for rules that
	// join parameters, such as lists that must have equal lengths.
	validate func(v string, values map[string]string) (string, bool)
	// multiline lets the value hold line breaks and tabs (a PEM csr).
	multiline bool
}

// endpoint is an API call's parameter table, in the contract's order (the
// order in which missing and malformed values are reported).
type endpoint struct {
	params []param
	// defaultFormat is the answer's format without responseFormat.
	defaultFormat wire.Format
	// formats maps responseFormat values to formats; nil when the endpoint
	// takes no responseFormat.
	formats map[string]wire.Format
	// extra, when set, checks the parsed values last (the order calls'
	// -7 on a country code).
	extra func(args) *wire.Error
	// writes marks a call that writes to the database, which the
	// admission gate refuses while writes are backlogged (limits.go).
	writes bool
}

// args are a request's checked parameters, values normalized.
type args struct {
	values map[string]string
	format wire.Format
}

func (a args) str(name string) string { return a.values[name] }

func (a args) int(name string) int64 {
	n, _ := strconv.ParseInt(a.values[name], 10, 64)
	return n
}

// parse reads a request and applies checks 1 to 5 of docs/api.md §1 in
// their order: transport, method, unknown parameter, missing parameter,
// malformed value. It returns the first failure.
func (h *Handler) parse(r *http.Request, ep *endpoint) (args, *wire.Error) {
	a := args{values: map[string]string{}, format: ep.defaultFormat}
	head, tooLarge := readBody(r)
	body := head
	if tooLarge {
		body = head[:wire.MaxBody]
	}
	pairs := append(wire.ParseForm(r.URL.RawQuery), wire.ParseForm(body)...)

	// The answer's format, if the request asks for one we know, applies to
	// errors too.
	for _, p := range pairs {
		if strings.EqualFold(p.Name, "responseFormat") && ep.formats != nil {
			if f, ok := ep.formats[p.Value]; ok {
				a.format = f
			}
		}
	}

	if !h.isHTTPS(r) {
		return a, wire.Errorf(wire.NotHTTPS, "")
	}
	if r.Method != http.MethodPost {
		return a, &wire.Error{Code: wire.WrongMethod, Method: r.Method}
	}
	if tooLarge {
		return a, &wire.Error{Code: wire.InvalidArgument, Item: ep.canonical(wire.TruncatedName(head)),
			Detail: "the request body is larger than 64 KiB"}
	}

	// Check 3: unknown parameters, the first in request order.
	values := map[string]string{}
	bad := map[string]bool{}
	for _, p := range pairs {
		name := ep.canonical(p.Name)
		if ep.find(name) == nil {
			return a, wire.Errorf(wire.UnknownArgument, p.Name)
		}
		if old, seen := values[name]; seen && old != p.Value {
			bad[name] = true // given twice with different values
		}
		if p.Bad {
			bad[name] = true
		}
		values[name] = p.Value
	}

	// Check 4: missing required parameters, in table order.
	for _, p := range ep.params {
		if values[p.name] != "" {
			continue
		}
		if (p.required && (p.unless == "" || values[p.unless] == "")) || (p.requiredIf != nil && p.requiredIf(values)) {
			return a, wire.Errorf(wire.MissingArgument, p.name)
		}
	}

	// Check 5: malformed values, in table order.
	for _, p := range ep.params {
		v, given := values[p.name]
		if !given || (v == "" && !bad[p.name]) {
			continue
		}
		norm, ok := p.check(v, values)
		if bad[p.name] || !ok {
			return a, wire.Errorf(wire.InvalidArgument, p.name)
		}
		a.values[p.name] = norm
	}
	if ep.extra != nil {
		return a, ep.extra(a)
	}
	return a, nil
}

// readBody reads the body, and reports whether it is longer than
// wire.MaxBody; then it returns only the body's head (a little more than
// the limit, so that the parameter crossing it can be named).
func readBody(r *http.Request) (string, bool) {
	if r.Body == nil {
		return "", false
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, wire.MaxBody+1024))
	return string(b), len(b) > wire.MaxBody
}

// canonical maps a parameter name to the documented spelling when it matches
// one case-insensitively (the vendor's own sample sends "responseformat").
func (ep *endpoint) canonical(name string) string {
	if ep.find(name) != nil {
		return name
	}
	for _, p := range ep.params {
		if strings.EqualFold(p.name, name) {
			return p.name
		}
	}
	return name
}

func (ep *endpoint) find(name string) *param {
	for i := range ep.params {
		if ep.params[i].name == name {
			return &ep.params[i]
		}
	}
	return nil
}

// check validates a value and returns it normalized; values are the
// request's others, as sent.
func (p *param) check(v string, values map[string]string) (string, bool) {
	if p.max > 0 && utf8.RuneCountInString(v) > p.max {
		return "", false
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
		return (r < 0x20 || r == 0x7f) && !(p.multiline && (r == '\n' || r == '\r' || r == '\t'))
	}) {
		return "", false
	}
	if p.validate != nil {
		return p.validate(v, values)
	}
	switch p.kind {
	case integer:
		if len(v) > 18 || strings.TrimLeft(v, "0123456789") != "" {
			return "", false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return strconv.FormatInt(n, 10), err == nil && n > 0
	case mailbox:
		m, err := contacts.NormalizeMailbox(v)
		return m, err == nil
	case domain:
		d, err := contacts.Normalize(v)
		return d, err == nil
	case format:
		return v, v == "1" || v == "2"
	case yesNo:
		u := strings.ToUpper(v)
		return u, u == "Y" || u == "N"
	}
	return v, true
}

// Parameters common to every endpoint.
var (
	loginName     = param{name: "loginName", required: true, max: 64}
	loginPassword = param{name: "loginPassword", required: true, max: 128}
)

// responseFormats is the responseFormat parameter's values where it is
// accepted (1 the endpoint's default, 2 JSON).
func responseFormats(one wire.Format) map[string]wire.Format {
	return map[string]wire.Format{"1": one, "2": wire.FormatJSON}
}

var resendEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", required: true, unless: "baseOrderNumber", kind: integer},
		{name: "baseOrderNumber", required: true, unless: "orderNumber", kind: integer},
		{name: "dcvEmailAddress", max: 255, kind: mailbox},
		{name: "dcvTemplateID", kind: integer},
	},
	defaultFormat: wire.FormatForm,
	writes:        true,
}

var addressListEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "domainName", required: true, max: 255, kind: domain},
		{name: "product", kind: integer},
		{name: "responseFormat", kind: format},
	},
	defaultFormat: wire.FormatText,
	formats:       responseFormats(wire.FormatText),
	writes:        true,
}

var detailsEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", required: true, kind: integer},
		{name: "showStatusDetails", kind: yesNo},
		{name: "responseFormat", kind: format},
	},
	defaultFormat: wire.FormatForm,
	formats:       responseFormats(wire.FormatForm),
}

// autoUpdateEndpoint takes one domain (domainName, newMethod,
// newDCVEmailAddress) or several (domainNames, newMethods,
// newDCVEmailAddresses), never both; autoupdate.go has the rules that join
// them.
var autoUpdateEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", required: true, unless: "baseOrderNumber", kind: integer},
		{name: "baseOrderNumber", required: true, unless: "orderNumber", kind: integer},
		{name: "domainName", max: 255, validate: singular(domainKey)},
		{name: "newMethod", max: 32, requiredIf: givenNone("domainNames", "newMethods"), validate: singular(method)},
		{name: "newDCVEmailAddress", max: 255, requiredIf: singleEmail, validate: singleAddress},
		{name: "domainNames", requiredIf: givenAny("newMethods", "newDCVEmailAddresses"), validate: domainList},
		{name: "newMethods", requiredIf: givenAny("domainNames"), validate: methodList},
		{name: "newDCVEmailAddresses", requiredIf: listEmail, validate: addressList},
		{name: "dcvTemplateID", kind: integer},
	},
	defaultFormat: wire.FormatForm,
	writes:        true,
}
