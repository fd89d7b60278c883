package api

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// collect serves download/CollectSSL (docs/api.md, CollectSSL).
func (h *Handler) collect(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &collectEndpoint)
	if !ok {
		return
	}
	queryType := a.str("queryType")
	responseType := a.str("responseType")
	if responseType == "" {
		responseType = "3"
	}
	binary := a.str("responseEncoding") == "1"
	switch {
	case responseType != "3" && queryType != "1":
		h.writeError(w, c, &wire.Error{Code: wire.InvalidArgument, Item: "responseType", Detail: "ZIP, Netscape and PKCS#7 answers need queryType 1"})
		return
	case responseType == "1":
		h.writeError(w, c, &wire.Error{Code: wire.InvalidArgument, Item: "responseType", Detail: "the Netscape certificate sequence is not supported"})
		return
	case binary && responseType == "3":
		h.writeError(w, c, &wire.Error{Code: wire.InvalidArgument, Item: "responseEncoding", Detail: "binary only for ZIP and PKCS#7"})
		return
	}
	got, err := h.dcv.Collect(r.Context(), acct, a.int("orderNumber"), a.int("baseOrderNumber"), a.int("certificateID"))
	if err != nil {
		h.failOrder(w, r, c, err)
		return
	}
	status := got.Status
	attach := status == dcv.CollectIssued && queryType != "0"
	if status == dcv.CollectIssued && !attach {
		status = 1
	}
	if attach && binary {
		h.collectBinary(w, r, c, got, responseType)
		return
	}
	pairs := []wire.Pair{{Name: "errorCode", Value: strconv.Itoa(status)}}
	if status < 0 {
		e := &wire.Error{Code: wire.Code(status), Text: collectMessages[status]}
		if c.format == wire.FormatText {
			h.writeError(w, c, e)
			return
		}
		pairs = append(pairs, wire.Pair{Name: "errorMessage", Value: e.Text})
	}
	pairs = append(pairs, wire.Pair{Name: "orderNumber", Value: strconv.FormatInt(got.Order.Number, 10)})
	if c.format == wire.FormatText {
		h.collectText(w, c, got, status, attach, a, queryType)
		return
	}
	pairs = append(pairs, collectInfo(got, a)...)
	if attach {
		data, err := collectData(got, queryType, responseType)
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		pairs = append(pairs, data...)
	}
	h.answer(w, c, pairs)
}

// collectMessages are the messages of CollectSSL's negative statuses.
var collectMessages = map[int]string{
	dcv.CollectRejected: "The certificate request has already been rejected!",
	dcv.CollectRevoked:  "The certificate has already been revoked!",
	dcv.CollectPayment:  "The order is awaiting payment!",
}

// collectInfo are the keys the show… flags ask for, in the contract's
// order.
func collectInfo(got dcv.Collected, a args) []wire.Pair {
	var p []wire.Pair
	if a.str("showFQDN") == "Y" && len(got.Cert.Names) > 0 {
		p = append(p, wire.Pair{Name: "fqdn", Value: got.Cert.Names[0]})
	}
	if a.str("showValidityPeriod") == "Y" && got.Leaf != nil {
		p = append(p, wire.Pair{Name: "notBefore", Value: strconv.FormatInt(got.Leaf.NotBefore.Unix(), 10)},
			wire.Pair{Name: "notAfter", Value: strconv.FormatInt(got.Leaf.NotAfter.Unix(), 10)})
	}
	if a.str("showExtStatus") == "Y" {
		p = append(p, wire.Pair{Name: "certificateStatus", Value: certificateWord(got)},
			wire.Pair{Name: "validationStatus", Value: validationWord(got)})
	}
	if a.str("showStatusDetails") == "Y" {
		dcvStatus, ov := "1", "-1"
		for _, d := range got.Domains {
			if d.Validated.IsZero() {
				dcvStatus = "0"
			}
		}
		if got.Product.OrganizationValidated() {
			ov = "0"
			if !got.Terms.OrgValidated.IsZero() {
				ov = "1"
			}
		}
		p = append(p,
			wire.Pair{Name: "csrStatus", Value: "1"},
			wire.Pair{Name: "dcvStatus", Value: dcvStatus},
			wire.Pair{Name: "ovCallBackStatus", Value: ov},
			wire.Pair{Name: "organizationValidationStatus", Value: ov},
			wire.Pair{Name: "freeDVUPStatus", Value: "-1"},
			wire.Pair{Name: "evClickThroughStatus", Value: "-1"},
			wire.Pair{Name: "brandValStatus", Value: "-1"},
			wire.Pair{Name: "caaStatus", Value: dcv.CAAStatusCode(got.Terms.CAAStatus)},
		)
		if got.Terms.CAAStatus != "" {
			p = append(p, wire.Pair{Name: "caaDetail", Value: got.Terms.CAAStatus})
		}
	}
	if a.str("showMDCDomainDetails") == "Y" || a.str("showMDCDomainDetails2") == "Y" {
		var parts []string
		for _, d := range got.Domains {
			status := statusAwaiting
			if !d.Validated.IsZero() {
				status = statusValidated
			}
			parts = append(parts, d.Name+","+string(d.Method)+","+status)
		}
		p = append(p, wire.Pair{Name: "mdcDomainDetails", Value: strings.Join(parts, ";")})
	}
	return p
}

// certificateWord is the certificate's state in words.
func certificateWord(got dcv.Collected) string {
	switch got.Status {
	case dcv.CollectRevoked:
		return "Revoked"
	case dcv.CollectRejected:
		return "Rejected"
	case dcv.CollectPayment:
		return "Awaiting Payment"
	case dcv.CollectIssued:
		return "Issued"
	}
	return "Awaiting Validation"
}

func validationWord(got dcv.Collected) string {
	for _, d := range got.Domains {
		if d.Validated.IsZero() {
			return "Awaiting Validation"
		}
	}
	return "Validated"
}

// b64 is base64 as the URL-encoded answer carries it: one line; the
// form encoder then percent-encodes + / and =.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// collectData are the certificate keys of a URL-encoded answer.
func collectData(got dcv.Collected, queryType, responseType string) ([]wire.Pair, error) {
	switch responseType {
	case "2":
		p7, err := ca.PKCS7(append([]*x509.Certificate{got.Leaf}, got.Chain...)...)
		return []wire.Pair{{Name: "pkcs7", Value: b64(p7)}}, err
	case "0":
		z, err := ca.ZIP(got.Leaf, got.Chain, got.Leaf.NotBefore)
		return []wire.Pair{{Name: "zipFile", Value: b64(z)}}, err
	}
	var p []wire.Pair
	if queryType != "3" {
		p = append(p, wire.Pair{Name: "certificate", Value: b64(got.Leaf.Raw)})
	}
	if queryType != "2" {
		for _, c := range got.Chain {
			p = append(p, wire.Pair{Name: "caCertificate", Value: b64(c.Raw)})
		}
	}
	return p, nil
}

// collectBinary answers responseEncoding=1: the ZIP or PKCS#7 itself.
func (h *Handler) collectBinary(w http.ResponseWriter, r *http.Request, c *call, got dcv.Collected, responseType string) {
	var body []byte
	var err error
	ctype := "application/zip"
	if responseType == "2" {
		ctype = "application/pkcs7-mime"
		body, err = ca.PKCS7(append([]*x509.Certificate{got.Leaf}, got.Chain...)...)
	} else {
		body, err = ca.ZIP(got.Leaf, got.Chain, got.Leaf.NotBefore)
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.code = wire.Code(dcv.CollectIssued)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// collectText is the newline answer: the status; with queryType 0 and
// showValidityPeriod the validity; with data attached fqdn (if asked) and
// the PEM blocks, root first.
func (h *Handler) collectText(w http.ResponseWriter, c *call, got dcv.Collected, status int, attach bool, a args, queryType string) {
	var b strings.Builder
	b.WriteString(strconv.Itoa(status) + "\n")
	if !attach {
		if a.str("showValidityPeriod") == "Y" && got.Leaf != nil {
			b.WriteString(strconv.FormatInt(got.Leaf.NotBefore.Unix(), 10) + "\n")
			b.WriteString(strconv.FormatInt(got.Leaf.NotAfter.Unix(), 10) + "\n")
		}
		h.write(w, c, []byte(b.String()))
		return
	}
	if a.str("showFQDN") == "Y" && len(got.Cert.Names) > 0 {
		b.WriteString(got.Cert.Names[0] + "\n")
	}
	var certs []*x509.Certificate
	if queryType != "2" {
		certs = append(certs, got.Chain...)
	}
	if queryType != "3" {
		certs = append(certs, got.Leaf)
	}
	for _, x := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw}))
	}
	h.write(w, c, []byte(b.String()))
}
