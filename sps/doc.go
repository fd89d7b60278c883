// Package sps is a Go client for the DCV calls of Sectigo's legacy partner
// API (ResendDCVEmail, GetDCVEmailAddressList, GetMDCDomainDetails and
// AutoUpdateDCV), as served by the vendor at DefaultBaseURL and by
// dcvmail. The same code works against both: only BaseURL differs.
//
// Usage:
//
//	c := &sps.Client{
//		BaseURL:       "https://dcv.example.net:8443", // or "" for the vendor
//		LoginName:     "reseller",
//		LoginPassword: os.Getenv("SPS_PASSWORD"),
//	}
//	list, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "www.example.com"})
//	if err != nil {
//		return err
//	}
//	_, err = c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{
//		OrderNumber:     1234567,
//		DCVEmailAddress: list.Emails()[0],
//	})
//	switch {
//	case errors.Is(err, sps.ErrCannotResend):
//		// nothing awaits email validation, or the resend limit is reached
//	case errors.Is(err, sps.ErrInvalidArgument):
//		var e *sps.Error
//		errors.As(err, &e)
//		log.Printf("bad %s: %v", e.Item, err)
//	case errors.Is(err, sps.ErrTransport):
//		// no answer; see TransportError.NotSent before trying again
//	}
//
// Every call is a POST of an application/x-www-form-urlencoded body holding
// loginName, loginPassword and the call's non-empty parameters. Answers are
// read in any of the API's three formats (form, the line-based text of
// GetDCVEmailAddressList, and JSON), whichever the server chose.
//
// Requests: in every request type, a zero value (0, "", false, nil) means
// "absent", and the parameter is not sent. Order numbers and template IDs
// are positive, so zero is never a value to send. The client does not check
// requests: the server does, and its answer (-3 for a missing parameter, -4
// for a bad one) comes back as an *Error, as it would to any client.
//
// Errors: a negative errorCode is an *Error, matched by errors.Is against
// ErrAuthentication, ErrPermission, ErrInvalidArgument or ErrCannotResend;
// a call that got no answer is a *TransportError, matched by ErrTransport.
//
// Retries: a call is tried again (at most three tries in all, with a short
// pause, within the context's deadline) only when that cannot do harm.
// Every call is retried when the connection could not be opened, since the
// server then saw nothing. GetDCVEmailAddressList and GetMDCDomainDetails,
// which change nothing that matters, are also retried after a reset
// connection, a timeout, or an HTTP 502, 503 or 504. ResendDCVEmail and
// AutoUpdateDCV are never retried once the request may have reached the
// server: a second resend could send a second email.
package sps
