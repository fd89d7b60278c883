package sps

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Paths of the order calls (docs/api.md sections 7 to 12).
const (
	pathAutoApplySSL   = "/products/!AutoApplySSL"
	pathCollectSSL     = "/products/download/CollectSSL"
	pathAutoReplaceSSL = "/products/!AutoReplaceSSL"
	pathAutoRevokeSSL  = "/products/!AutoRevokeSSL"
	pathAutoRefund     = "/products/!AutoRefund"
)

// ApplySSLRequest holds the parameters of AutoApplySSL that clients use.
type ApplySSLRequest struct {
	Product int64
	Days    int64
	// ServerSoftware is -1 (other) or 1 to 36; 0 sends -1.
	ServerSoftware int64
	CSR            string // PEM or base64
	// DomainNames and DCVEmailAddresses are for multi-domain products,
	// one address (or method keyword) per name.
	DomainNames       []string
	PrimaryDomainName string
	DCVMethod         string
	DCVEmailAddress   string
	DCVEmailAddresses []string
	UniqueValue       string
}

// ApplySSLResponse is a placed order.
type ApplySSLResponse struct {
	OrderNumber   int64
	CertificateID int64
	TotalCost     string // two decimals, as the server wrote it
	UniqueValue   string
	// PaymentPending: status 1, the account's customer pays.
	PaymentPending bool
}

// ApplySSL places an order (AutoApplySSL). Never retried once the request
// may have reached the server.
func (c *Client) ApplySSL(ctx context.Context, req ApplySSLRequest) (ApplySSLResponse, error) {
	var ps params
	ps.addInt("product", req.Product)
	ps.addInt("days", req.Days)
	if req.ServerSoftware == 0 {
		ps.add("serverSoftware", "-1")
	} else {
		ps.add("serverSoftware", strconv.FormatInt(req.ServerSoftware, 10))
	}
	ps.add("csr", req.CSR)
	ps.add("domainNames", strings.Join(req.DomainNames, ","))
	ps.add("primaryDomainName", req.PrimaryDomainName)
	ps.add("dcvMethod", req.DCVMethod)
	ps.add("dcvEmailAddress", req.DCVEmailAddress)
	ps.add("dcvEmailAddresses", strings.Join(req.DCVEmailAddresses, ","))
	ps.add("uniqueValue", req.UniqueValue)
	ps.add("showCertificateID", "Y")
	ps.add("responseFormat", "1")
	a, bad, err := c.call(ctx, "AutoApplySSL", pathAutoApplySSL, ps, false)
	if err != nil {
		return ApplySSLResponse{}, err
	}
	r := ApplySSLResponse{TotalCost: get(a, "totalCost"), UniqueValue: get(a, "uniqueValue"), PaymentPending: a.status.Code == 1}
	if r.OrderNumber, err = strconv.ParseInt(get(a, "orderNumber"), 10, 64); err != nil {
		return r, bad(err)
	}
	r.CertificateID, _ = strconv.ParseInt(get(a, "certificateID"), 10, 64)
	return r, nil
}

// CollectSSLRequest names an order (or one certificate) to collect.
type CollectSSLRequest struct {
	OrderNumber   int64
	CertificateID int64
	// QueryType: 0 status only, 1 certificate and CA certificates, 2 the
	// certificate, 3 the CA certificates.
	QueryType int
}

// CollectSSLResponse is the status and, once issued, the certificates.
type CollectSSLResponse struct {
	// Status: 0 being processed, 1 issued (QueryType 0), 2 issued with data.
	Status      int
	OrderNumber int64
	NotBefore   time.Time
	NotAfter    time.Time
	// Certificate is DER; CACertificates are DER, root first.
	Certificate    []byte
	CACertificates [][]byte
}

// CollectSSL asks for an order's status and certificate (CollectSSL).
// Negative statuses (-20 rejected, -21 revoked, -22 awaiting payment) are
// an *Error. Retried on transport failures: it changes nothing.
func (c *Client) CollectSSL(ctx context.Context, req CollectSSLRequest) (CollectSSLResponse, error) {
	var ps params
	ps.addInt("orderNumber", req.OrderNumber)
	ps.addInt("certificateID", req.CertificateID)
	ps.add("queryType", strconv.Itoa(req.QueryType))
	ps.add("showValidityPeriod", "Y")
	ps.add("responseFormat", "1")
	a, bad, err := c.call(ctx, "CollectSSL", pathCollectSSL, ps, true)
	if err != nil {
		return CollectSSLResponse{}, err
	}
	r := CollectSSLResponse{Status: int(a.status.Code)}
	r.OrderNumber, _ = strconv.ParseInt(get(a, "orderNumber"), 10, 64)
	for _, p := range a.pairs {
		switch p.Name {
		case "notBefore", "notAfter":
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if err != nil {
				return r, bad(err)
			}
			if p.Name == "notBefore" {
				r.NotBefore = time.Unix(n, 0).UTC()
			} else {
				r.NotAfter = time.Unix(n, 0).UTC()
			}
		case "certificate", "caCertificate":
			der, err := base64.StdEncoding.DecodeString(p.Value)
			if err != nil {
				return r, bad(err)
			}
			if p.Name == "certificate" {
				r.Certificate = der
			} else {
				r.CACertificates = append(r.CACertificates, der)
			}
		}
	}
	return r, nil
}

// ReplaceSSL asks for a new certificate on an order (AutoReplaceSSL); csr
// "" reuses the order's CSR. It returns the new certificateID.
func (c *Client) ReplaceSSL(ctx context.Context, orderNumber int64, csr, dcvEmailAddress string) (int64, error) {
	var ps params
	ps.addInt("orderNumber", orderNumber)
	ps.add("csr", csr)
	ps.add("dcvEmailAddress", dcvEmailAddress)
	ps.add("showCertificateID", "Y")
	ps.add("responseFormat", "1")
	a, bad, err := c.call(ctx, "AutoReplaceSSL", pathAutoReplaceSSL, ps, false)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(get(a, "certificateID"), 10, 64)
	if err != nil {
		return 0, bad(err)
	}
	return id, nil
}

// RevokeSSLRequest names what to revoke: one of OrderNumber,
// CertificateID and SerialNumber (hex).
type RevokeSSLRequest struct {
	OrderNumber   int64
	CertificateID int64
	SerialNumber  string
	// CodeReason is the RFC 5280 reason: 0, 1, 3, 4 or 5.
	CodeReason       int
	RevocationReason string
	Test             bool // checked and answered; nothing changes
}

// RevokeSSL revokes certificates (AutoRevokeSSL).
func (c *Client) RevokeSSL(ctx context.Context, req RevokeSSLRequest) error {
	var ps params
	ps.addInt("orderNumber", req.OrderNumber)
	ps.addInt("certificateID", req.CertificateID)
	ps.add("serialNumber", req.SerialNumber)
	ps.add("revocationReason", req.RevocationReason)
	if req.CodeReason != 0 {
		ps.add("codeReason", strconv.Itoa(req.CodeReason))
	}
	if req.Test {
		ps.add("test", "Y")
	}
	ps.add("responseFormat", "1")
	_, _, err := c.call(ctx, "AutoRevokeSSL", pathAutoRevokeSSL, ps, false)
	return err
}

// Refund cancels an order and gives its price back (AutoRefund).
func (c *Client) Refund(ctx context.Context, orderNumber int64) error {
	var ps params
	ps.addInt("orderNumber", orderNumber)
	_, _, err := c.call(ctx, "AutoRefund", pathAutoRefund, ps, false)
	return err
}

// get is the first value of a key of a form answer.
func get(a *answer, name string) string {
	for _, p := range a.pairs {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}
