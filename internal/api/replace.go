package api

import (
	"net/http"
	"strconv"

	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// replaceEndpoint: AutoApplySSL's parameters without product, days and
// the flags of a new order, with orderNumber and exactOrder.
var replaceEndpoint = func() endpoint {
	params := []param{
		loginName,
		loginPassword,
		{name: "orderNumber", required: true, kind: integer},
		{name: "csr", max: csr.MaxLen, multiline: true},
		{name: "exactOrder", kind: yesNo},
	}
	for _, p := range applyEndpoint.params[5:] {
		switch p.name {
		case "csr", "showCertificateState", "test", "days", "years":
			continue
		case "serverSoftware":
			p.required = false
		}
		params = append(params, p)
	}
	return endpoint{params: params, defaultFormat: wire.FormatText, formats: newlineFormats, extra: countryError, writes: true}
}()

// replace serves !AutoReplaceSSL. Success is exactly errorCode 0.
func (h *Handler) replace(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &replaceEndpoint)
	if !ok {
		return
	}
	req := dcv.ReplaceRequest{OrderNumber: a.int("orderNumber"), ApplyRequest: certificateRequest(a, acct)}
	res, err := h.dcv.Replace(r.Context(), req)
	if err != nil {
		h.failOrder(w, r, c, err)
		return
	}
	pairs := []wire.Pair{{Name: "errorCode", Value: "0"}}
	if a.str("showCertificateID") == "Y" {
		pairs = append(pairs, wire.Pair{Name: "certificateID", Value: strconv.FormatInt(res.CertificateID, 10)})
	}
	pairs = append(pairs, wire.Pair{Name: "expectedDeliveryTime", Value: "1"}, wire.Pair{Name: "uniqueValue", Value: res.UniqueValue})
	h.answer(w, c, pairs)
}
