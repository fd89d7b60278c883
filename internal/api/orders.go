package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/csr"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// routeOrders registers the order calls (docs/api.md, orders).
func (h *Handler) routeOrders() {
	h.route("/products/!AutoApplySSL", wire.FormatText, h.apply)
	h.route("/products/!AutoApplyOrder", wire.FormatText, h.apply)
	h.route("/products/download/CollectSSL", wire.FormatText, h.collect)
	h.route("/products/!AutoRevokeSSL", wire.FormatText, h.revoke)
	h.route("/products/!AutoRefund", wire.FormatForm, h.refund)
	h.route("/products/!AutoReplaceSSL", wire.FormatText, h.replace)
	h.route("/products/!DecodeCSR", wire.FormatText, h.decodeCSR)
}

// failOrder answers the refusals of the order calls that carry codes of
// their own (the CSR's, dcv.Coded), else as fail does.
func (h *Handler) failOrder(w http.ResponseWriter, r *http.Request, c *call, err error) {
	var ce *csr.Error
	if errors.As(err, &ce) {
		h.writeError(w, c, &wire.Error{Code: wire.Code(ce.Code), Text: ce.Message, Detail: ce.Detail})
		return
	}
	if e, ok := dcv.AsCoded(err); ok {
		h.writeError(w, c, &wire.Error{Code: wire.Code(e.Code), Text: e.Message, Detail: e.Detail})
		return
	}
	h.fail(w, r, c, err)
}

// answer writes pairs in the call's format: URL-encoded in order, or
// newline text (the values alone, one a line, errorCode first).
func (h *Handler) answer(w http.ResponseWriter, c *call, pairs []wire.Pair) {
	if c.format == wire.FormatForm {
		h.write(w, c, wire.EncodeForm(pairs))
		return
	}
	var b strings.Builder
	for _, p := range pairs {
		b.WriteString(p.Value)
		b.WriteByte('\n')
	}
	h.write(w, c, []byte(b.String()))
}

// certificateRequest reads what AutoApplySSL and AutoReplaceSSL share: the
// CSR, the names and how each is validated.
func certificateRequest(a args, acct model.Account) dcv.ApplyRequest {
	req := dcv.ApplyRequest{
		Account:       acct,
		CSR:           a.str("csr"),
		DomainNames:   strings.Fields(a.str("domainNames")),
		PrimaryDomain: a.str("primaryDomainName"),
		Method:        model.Method(a.str("dcvMethod")),
		Address:       a.str("dcvEmailAddress"),
		UniqueValue:   a.str("uniqueValue"),
	}
	if v := a.str("dcvEmailAddresses"); v != "" {
		req.Addresses = strings.Split(v, ",")
	}
	return req
}

// apply serves !AutoApplySSL and !AutoApplyOrder.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &applyEndpoint)
	if !ok {
		return
	}
	days := int(a.int("days"))
	if days == 0 && a.int("years") > 0 {
		days = int(a.int("years")) * 365
	}
	req := certificateRequest(a, acct)
	req.Product, req.Days = a.int("product"), days
	req.Test, req.ForeignNumber = a.str("test") == "Y", a.str("foreignOrderNumber")
	res, err := h.dcv.Apply(r.Context(), req)
	if err != nil {
		h.failOrder(w, r, c, err)
		return
	}
	status := "0"
	if res.PaymentPending {
		status = "1"
	}
	pairs := []wire.Pair{
		{Name: "errorCode", Value: status},
		{Name: "orderNumber", Value: strconv.FormatInt(res.OrderNumber, 10)},
		{Name: "totalCost", Value: res.Cost.String()},
		{Name: "expectedDeliveryTime", Value: "1"},
	}
	if a.str("showCertificateID") == "Y" {
		pairs = append(pairs, wire.Pair{Name: "certificateID", Value: strconv.FormatInt(res.CertificateID, 10)})
	}
	if a.str("showCertificateState") == "Y" {
		state := "Awaiting Validation"
		if res.Issued {
			state = "Issued"
		}
		pairs = append(pairs, wire.Pair{Name: "certificateState", Value: state})
	}
	pairs = append(pairs, wire.Pair{Name: "uniqueValue", Value: res.UniqueValue})
	h.answer(w, c, pairs)
}

// revoke serves !AutoRevokeSSL.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &revokeEndpoint)
	if !ok {
		return
	}
	_, reasonGiven := a.values["revocationReason"]
	err := h.dcv.Revoke(r.Context(), dcv.RevokeRequest{
		Account:       acct,
		OrderNumber:   a.int("orderNumber"),
		CertificateID: a.int("certificateID"),
		Serial:        a.str("serialNumber"),
		Reason:        int(a.int("codeReason")),
		Test:          a.str("test") == "Y",
		NoReasonText:  !reasonGiven,
	})
	if err != nil {
		h.failOrder(w, r, c, err)
		return
	}
	h.answer(w, c, []wire.Pair{{Name: "errorCode", Value: "0"}})
}
