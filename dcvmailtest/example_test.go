package dcvmailtest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dcvmail/dcvmail/dcvmailtest"
	"github.com/dcvmail/dcvmail/sps"
)

// The whole walk of an integration test: an order, a DCV email, the code
// from the mailbox, the confirmation, and the order seen validated.
func Example() {
	srv, err := dcvmailtest.New(dcvmailtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()

	order := srv.AddOrder("www.example.com")
	// The address must come from an address list first, as at the vendor.
	if _, err := srv.Client.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "www.example.com"}); err != nil {
		panic(err)
	}
	if _, err := srv.Client.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{
		OrderNumber: order, DCVEmailAddress: "admin@example.com"}); err != nil {
		panic(err)
	}
	msg := srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
	fmt.Println("mail to:", msg.To[0].Address)
	fmt.Println("page:", srv.Confirm(order, msg.DCVCode))

	details, err := srv.Client.GetMDCDomainDetails(ctx, sps.GetMDCDomainDetailsRequest{OrderNumber: order})
	if err != nil {
		panic(err)
	}
	fmt.Println("validated:", details.Domains[0].Validated())
	// Output:
	// mail to: admin@example.com
	// page: confirmed
	// validated: true
}

// resend is the integrator's code under test: it asks for the first DCV
// email of an order's domain, and when the answer is lost it asks the
// order's state before trying again, so that a lost answer never sends a
// second email.
func resend(ctx context.Context, c *sps.Client, order int64, to string) (tries int, err error) {
	for tries = 1; tries <= 3; tries++ {
		_, err = c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order, DCVEmailAddress: to})
		var te *sps.TransportError
		if !errors.As(err, &te) {
			return tries, err // an answer, good or bad
		}
		if te.NotSent {
			continue // the server saw nothing: safe to try again
		}
		// No answer: did the resend happen? Then the domain's DCV address
		// is the one asked for.
		d, derr := c.GetMDCDomainDetails(ctx, sps.GetMDCDomainDetailsRequest{OrderNumber: order, ShowStatusDetails: true})
		if derr == nil && len(d.Domains) > 0 && d.Domains[0].DCVEmailAddress == to {
			return tries, nil // it did: do not send a second email
		}
	}
	return tries, err
}

// A resend-retry loop tested against a fault in the "after" phase: the
// server sends the email and commits, then drops the connection without an
// answer. The loop must notice that the email went and not send another.
func Example_resendRetryAfterLostAnswer() {
	srv, err := dcvmailtest.New(dcvmailtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()

	order := srv.AddOrderWith(dcvmailtest.Order{Domains: []string{"www.example.com"}})
	if _, err := srv.Client.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "www.example.com"}); err != nil {
		panic(err)
	}
	fault := srv.Faults.Add(dcvmailtest.Fault{Endpoint: "ResendDCVEmail", Phase: "after", Drop: true})

	tries, err := resend(ctx, srv.Client, order, "admin@example.com")
	fmt.Println("tries:", tries, "error:", err)
	fmt.Println("fault fired:", srv.Faults.Fired(fault))
	srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
	fmt.Println("emails sent:", len(srv.Mailbox.Messages(fmt.Sprintf("order:%d", order))))
	// Output:
	// tries: 1 error: <nil>
	// fault fired: 1
	// emails sent: 1
}

// Code expiry without waiting: move the server's clock past the code's
// validity, and the page refuses the code.
func ExampleClock_Advance() {
	srv, err := dcvmailtest.New(dcvmailtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	order := srv.AddOrderWith(dcvmailtest.Order{Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	msg := srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
	srv.Clock.Advance(31 * 24 * time.Hour)
	fmt.Println("page:", srv.Confirm(order, msg.DCVCode))
	// Output:
	// page: invalid
}

// A fault in the "before" phase answers instead of the call: here the
// vendor's "try again later" (-14), in the call's own format.
func ExampleFaults_Add() {
	srv, err := dcvmailtest.New(dcvmailtest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	srv.Faults.Add(dcvmailtest.Fault{Endpoint: "GetDCVEmailAddressList", ErrorCode: -14})
	_, err = srv.Client.GetDCVEmailAddressList(context.Background(), sps.GetDCVEmailAddressListRequest{DomainName: "example.com"})
	var apiErr *sps.Error
	fmt.Println(errors.As(err, &apiErr), apiErr.Code)
	// The rule fired once (its default); the next call is answered.
	_, err = srv.Client.GetDCVEmailAddressList(context.Background(), sps.GetDCVEmailAddressListRequest{DomainName: "example.com"})
	fmt.Println(err)
	// Output:
	// true -14
	// <nil>
}
