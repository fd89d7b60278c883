package sps

import (
	"context"
	"strings"
	"time"
)

// API paths. The '!' is sent raw, as in the vendor's samples; dcvmail also
// accepts %21.
const (
	pathResendDCVEmail         = "/products/!ResendDCVEmail"
	pathGetDCVEmailAddressList = "/products/!GetDCVEmailAddressList"
	pathGetMDCDomainDetails    = "/products/!GetMDCDomainDetails"
	pathAutoUpdateDCV          = "/products/!AutoUpdateDCV"
)

// DCV methods, the values of AutoUpdateDCV's newMethod and of
// DomainDetail.DCVMethod.
const (
	MethodEmail        = "EMAIL"
	MethodHTTPCSRHash  = "HTTP_CSR_HASH"
	MethodHTTPSCSRHash = "HTTPS_CSR_HASH"
	MethodCNAMECSRHash = "CNAME_CSR_HASH"
)

// Values of DomainDetail.DCVStatus.
const (
	StatusAwaitingValidation = "Awaiting Validation"
	StatusValidated          = "Validated"
)

// ResendDCVEmailRequest holds the parameters of ResendDCVEmail.
type ResendDCVEmailRequest struct {
	// OrderNumber or BaseOrderNumber names the order; the base order
	// number stands for the newest order of a chain of reissues and
	// renewals.
	OrderNumber     int64
	BaseOrderNumber int64
	// DCVEmailAddress switches the email to this address, which must be
	// one GetDCVEmailAddressList returned within the last 24 hours. When
	// empty, the email goes again to the address it was last sent to.
	DCVEmailAddress string
	// DCVTemplateID chooses the email template.
	DCVTemplateID int64
}

// ResendDCVEmailResponse is a successful ResendDCVEmail. It carries nothing:
// success is the answer errorCode=0.
type ResendDCVEmailResponse struct{}

// ResendDCVEmail sends or resends the DCV email of an order. It is never
// retried once the request may have reached the server: on a
// *TransportError whose NotSent is false, the email may or may not have
// been sent.
func (c *Client) ResendDCVEmail(ctx context.Context, req ResendDCVEmailRequest) (ResendDCVEmailResponse, error) {
	const op = "ResendDCVEmail"
	var ps params
	ps.addInt("orderNumber", req.OrderNumber)
	ps.addInt("baseOrderNumber", req.BaseOrderNumber)
	ps.add("dcvEmailAddress", req.DCVEmailAddress)
	ps.addInt("dcvTemplateID", req.DCVTemplateID)
	_, _, err := c.call(ctx, op, pathResendDCVEmail, ps, false)
	return ResendDCVEmailResponse{}, err
}

// GetDCVEmailAddressListRequest holds the parameters of
// GetDCVEmailAddressList.
type GetDCVEmailAddressListRequest struct {
	// DomainName is the FQDN or wildcard name ("*.example.com").
	DomainName string
	// Product is the vendor's product number; dcvmail records it.
	Product int64
	// JSON asks for the JSON format (responseFormat=2) instead of the
	// default text. Only the JSON format carries the DNS TXT and CAA
	// contacts and the warnings.
	JSON bool
}

// LevelEmails are the constructed addresses (admin@, administrator@,
// hostmaster@, postmaster@, webmaster@) of one Authorization Domain Name.
type LevelEmails struct {
	// Level is 2 for the Base Domain Name ("example.com"), 3 for the name
	// one label longer ("www.example.com"), and so on.
	Level  int      `json:"level"`
	Emails []string `json:"emails"`
}

// GetDCVEmailAddressListResponse is the list of addresses that may receive
// the DCV email of a domain. Every list keeps the server's order.
type GetDCVEmailAddressListResponse struct {
	// DomainName is the name the list is for, as the server normalised it.
	DomainName string `json:"domainName,omitempty"`
	// WhoisEmails are WHOIS contacts; always empty from dcvmail and today's
	// vendor (the answer's "none" is left out).
	WhoisEmails []string `json:"whoisEmails,omitempty"`
	// Levels are the constructed addresses, by ascending level.
	Levels []LevelEmails `json:"levels,omitempty"`
	// DNSTXTEmails and CAAEmails are the DNS contacts (JSON format only).
	DNSTXTEmails []string `json:"dnsTxtEmails,omitempty"`
	CAAEmails    []string `json:"caaEmails,omitempty"`
	// Warnings say which DNS lookups failed, leaving their lists empty.
	Warnings []string `json:"warnings,omitempty"`
}

// Emails is every address of r once, in the order levels, DNS TXT, CAA,
// WHOIS.
func (r GetDCVEmailAddressListResponse) Emails() []string {
	var out []string
	seen := map[string]bool{}
	add := func(list []string) {
		for _, a := range list {
			if k := strings.ToLower(a); !seen[k] {
				seen[k] = true
				out = append(out, a)
			}
		}
	}
	for _, l := range r.Levels {
		add(l.Emails)
	}
	add(r.DNSTXTEmails)
	add(r.CAAEmails)
	add(r.WhoisEmails)
	return out
}

// GetDCVEmailAddressList lists the addresses that may receive the DCV email
// for a domain. The server records the answer: ResendDCVEmail and
// AutoUpdateDCV accept only addresses it returned to the account within
// the last 24 hours. Asking again only records the same addresses again, so
// the call is retried on transient network failures.
func (c *Client) GetDCVEmailAddressList(ctx context.Context, req GetDCVEmailAddressListRequest) (GetDCVEmailAddressListResponse, error) {
	const op = "GetDCVEmailAddressList"
	var ps params
	ps.add("domainName", req.DomainName)
	ps.addInt("product", req.Product)
	if req.JSON {
		ps.add("responseFormat", "2")
	}
	a, _, err := c.call(ctx, op, pathGetDCVEmailAddressList, ps, true)
	if err != nil {
		return GetDCVEmailAddressListResponse{}, err
	}
	return decodeAddressList(a), nil
}

// GetMDCDomainDetailsRequest holds the parameters of GetMDCDomainDetails.
type GetMDCDomainDetailsRequest struct {
	OrderNumber int64
	// ShowStatusDetails asks for the address, last sending and validation
	// time of each domain (showStatusDetails=Y).
	ShowStatusDetails bool
	// JSON asks for the JSON format (responseFormat=2) instead of the
	// default form encoding. The response is the same either way.
	JSON bool
}

// DomainDetail is the DCV state of one domain of an order.
type DomainDetail struct {
	DomainName string `json:"domainName"`
	// DCVMethod is one of the Method constants.
	DCVMethod string `json:"dcvMethod"`
	// DCVStatus is StatusAwaitingValidation or StatusValidated.
	DCVStatus string `json:"dcvStatus"`
	// DCVEmailAddress, LastSentAt and ValidatedAt come only with
	// ShowStatusDetails; the times are zero when there is none.
	DCVEmailAddress string    `json:"dcvEmailAddress,omitempty"`
	LastSentAt      time.Time `json:"lastSentAt,omitzero"`
	ValidatedAt     time.Time `json:"validatedAt,omitzero"`
}

// Validated reports whether the domain's control is validated.
func (d DomainDetail) Validated() bool { return strings.EqualFold(d.DCVStatus, StatusValidated) }

// GetMDCDomainDetailsResponse is the DCV state of an order's domains.
type GetMDCDomainDetailsResponse struct {
	// Domains are in the server's order (its indexes 1, 2, ...).
	Domains []DomainDetail `json:"domains"`
}

// GetMDCDomainDetails reports the DCV state of every domain of an order.
// It changes nothing, so it is retried on transient network failures.
func (c *Client) GetMDCDomainDetails(ctx context.Context, req GetMDCDomainDetailsRequest) (GetMDCDomainDetailsResponse, error) {
	const op = "GetMDCDomainDetails"
	var ps params
	ps.addInt("orderNumber", req.OrderNumber)
	if req.ShowStatusDetails {
		ps.add("showStatusDetails", "Y")
	}
	if req.JSON {
		ps.add("responseFormat", "2")
	}
	a, bad, err := c.call(ctx, op, pathGetMDCDomainDetails, ps, true)
	if err != nil {
		return GetMDCDomainDetailsResponse{}, err
	}
	r, err := decodeDomainDetails(a)
	if err != nil {
		return GetMDCDomainDetailsResponse{}, bad(err)
	}
	return r, nil
}

// AutoUpdateDCVRequest holds the parameters of AutoUpdateDCV. Use
// DomainName, NewMethod and NewDCVEmailAddress for one domain, or the plural
// fields for several: the i-th domain gets the i-th method and address.
type AutoUpdateDCVRequest struct {
	OrderNumber     int64
	BaseOrderNumber int64
	// DomainName is needed for an order of several domains.
	DomainName string
	// NewMethod is one of the Method constants.
	NewMethod string
	// NewDCVEmailAddress is required with MethodEmail; it must be one
	// GetDCVEmailAddressList returned within the last 24 hours.
	NewDCVEmailAddress string
	// DomainNames, NewMethods and NewDCVEmailAddresses are sent joined
	// as the API wants: names and addresses by spaces, methods by commas.
	DomainNames          []string
	NewMethods           []string
	NewDCVEmailAddresses []string
	DCVTemplateID        int64
}

// AutoUpdateDCVResponse is a successful AutoUpdateDCV. It carries nothing:
// success is the answer errorCode=0.
type AutoUpdateDCVResponse struct{}

// AutoUpdateDCV changes the DCV method or address of domains of an order;
// switching a domain to EMAIL sends a new DCV email. Like ResendDCVEmail it
// is never retried once the request may have reached the server.
func (c *Client) AutoUpdateDCV(ctx context.Context, req AutoUpdateDCVRequest) (AutoUpdateDCVResponse, error) {
	const op = "AutoUpdateDCV"
	var ps params
	ps.addInt("orderNumber", req.OrderNumber)
	ps.addInt("baseOrderNumber", req.BaseOrderNumber)
	ps.add("domainName", req.DomainName)
	ps.add("newMethod", req.NewMethod)
	ps.add("newDCVEmailAddress", req.NewDCVEmailAddress)
	ps.add("domainNames", strings.Join(req.DomainNames, " "))
	ps.add("newMethods", strings.Join(req.NewMethods, ","))
	ps.add("newDCVEmailAddresses", strings.Join(req.NewDCVEmailAddresses, " "))
	ps.addInt("dcvTemplateID", req.DCVTemplateID)
	_, _, err := c.call(ctx, op, pathAutoUpdateDCV, ps, false)
	return AutoUpdateDCVResponse{}, err
}
