package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/costly"
	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// refundEndpoint: AutoRefund answers URL-encoded whatever responseFormat
// says.
var refundEndpoint = endpoint{
	params: []param{
		loginName,
		loginPassword,
		{name: "orderNumber", required: true, kind: integer},
		{name: "refundReasonCode", validate: func(v string, _ map[string]string) (string, bool) {
			n, err := strconv.Atoi(v)
			return strconv.Itoa(n), err == nil && n >= 1 && n <= 11
		}},
		orderResponseFormat,
	},
	defaultFormat: wire.FormatForm,
	formats:       map[string]wire.Format{"0": wire.FormatForm, "1": wire.FormatForm},
	writes:        true,
}

// refund serves !AutoRefund.
func (h *Handler) refund(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &refundEndpoint)
	if !ok {
		return
	}
	if err := h.dcv.Refund(r.Context(), acct, a.int("orderNumber")); err != nil {
		h.failOrder(w, r, c, err)
		return
	}
	h.write(w, c, wire.Success)
}

// decodeEndpoint: DecodeCSR takes no login.
var decodeEndpoint = endpoint{
	params: []param{
		{name: "csr", required: true, max: csr.MaxLen, multiline: true},
		{name: "showErrorCodes", kind: yesNo},
		{name: "showErrorMessages", kind: yesNo},
		{name: "showFieldNames", kind: yesNo},
		{name: "showEmptyFields", kind: yesNo},
		{name: "showCN", kind: yesNo},
		{name: "showAddress", kind: yesNo},
		{name: "showPublicKey", kind: yesNo},
		{name: "showKeySize", kind: yesNo},
		{name: "showSANDNSNames", kind: yesNo},
		{name: "showCSR", kind: yesNo},
		{name: "showCSRHashes", kind: yesNo},
		{name: "showSignatureAlgorithm", kind: yesNo},
		{name: "product", kind: integer},
		{name: "countryNameType", max: 16},
		{name: "responseFormat", validate: digitIn("012")},
	},
	defaultFormat: wire.FormatText,
	formats:       map[string]wire.Format{"0": wire.FormatText, "1": wire.FormatText, "2": wire.FormatJSON},
}

// decodeCSR serves !DecodeCSR: no login, GET or POST. Line 1 is the number
// of refusals, then one line per refusal (code and message), then the
// fields as KEY=value; responseFormat=2 is JSON.
func (h *Handler) decodeCSR(w http.ResponseWriter, r *http.Request, c *call) {
	if r.Method == http.MethodGet && r.Body != nil {
		r.Body = http.NoBody
	}
	post := r.Method
	r.Method = http.MethodPost // parse's method check: DecodeCSR takes GET as well
	a, werr := h.parse(r, &decodeEndpoint)
	r.Method = post
	c.format = a.format
	if werr != nil {
		h.writeError(w, c, werr)
		return
	}
	// Anyone may ask, and checking a large RSA key costs milliseconds:
	// costly work, bounded per source and in all (-14 beyond, as over the
	// request limit).
	if h.costly != nil {
		release, retry, err := h.costly.Enter(r.Context(), h.proxies.Of(r).IP)
		if errors.Is(err, costly.ErrBusy) {
			next := time.Now().UTC().Add(retry).Truncate(time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			h.writeError(w, c, &wire.Error{Code: wire.Internal,
				Detail: "too many CSRs to decode from this source; retry after " + next.Format(time.RFC3339)})
			return
		}
		if err != nil {
			return // the client has gone
		}
		defer release()
	}
	d := csr.Decode(a.str("csr"), h.dcvBlocklist())
	if c.format == wire.FormatJSON {
		h.write(w, c, wire.EncodeJSON([]wire.Field{{Key: "errorCode", Value: 0}, {Key: "errors", Value: d.Errors}, {Key: "fields", Value: d.Fields}}))
		return
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(d.Errors)) + "\n")
	for _, e := range d.Errors {
		b.WriteString(strconv.Itoa(e.Code) + " " + e.Message + "\n")
	}
	showEmpty := a.str("showEmptyFields") == "Y"
	for _, f := range d.Fields {
		if f.Value == "" && !showEmpty {
			continue
		}
		b.WriteString(f.Key + "=" + f.Value + "\n")
	}
	h.write(w, c, []byte(b.String()))
}

func (h *Handler) dcvBlocklist() *csr.Blocklist {
	if o := h.dcv.Orders(); o != nil {
		return o.Blocklist
	}
	return nil
}
