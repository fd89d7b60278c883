package sps_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/sps"
)

// dcvmail starts, once for all examples, a real dcvmail server in this
// process with its demo data: account "login_name" / "login_password" and
// order 1234567 for example.com, whose DCV email was sent to
// admin@example.com. It returns the base URL and an HTTP client that
// trusts the server's self-signed certificate. The examples run against it;
// against the vendor, leave BaseURL and HTTPClient unset.
var dcvmail = sync.OnceValues(func() (string, *http.Client) {
	dir, err := os.MkdirTemp("", "sps-example-")
	if err != nil {
		panic(err)
	}
	cfg := config.Serve{
		Common:         config.Common{Data: dir},
		Listen:         "127.0.0.1:0",
		MailFrom:       "dcv@dcvmail.test",
		Demo:           true,
		CodeValidity:   29 * 24 * time.Hour,
		ResendBurst:    5,
		ResendInterval: time.Minute,
	}
	srv, err := server.New(context.Background(), cfg, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	go srv.Serve()
	sps.AfterTests = append(sps.AfterTests, func() {
		srv.Shutdown(context.Background())
		os.RemoveAll(dir)
	})
	pem, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return srv.URL(), &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
})

// demoClient is a client of the in-process dcvmail for the demo account.
func demoClient() *sps.Client {
	url, hc := dcvmail()
	return &sps.Client{BaseURL: url, LoginName: "login_name", LoginPassword: "login_password", HTTPClient: hc}
}

// A resend, and what to do when it fails.
func Example() {
	ctx := context.Background()
	c := demoClient()
	_, err := c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: 7654321})
	var apiErr *sps.Error
	switch {
	case err == nil:
		fmt.Println("resent")
	case errors.Is(err, sps.ErrInvalidArgument) && errors.As(err, &apiErr):
		fmt.Println("rejected parameter:", apiErr.Item)
		fmt.Println(err)
	case errors.Is(err, sps.ErrCannotResend):
		fmt.Println("nothing to resend")
	case errors.Is(err, sps.ErrTransport):
		fmt.Println("no answer:", err)
	}
	// Output:
	// rejected parameter: orderNumber
	// errorCode -4: The value of the 'orderNumber' argument is invalid! (orderNumber): no such order for this account
}

func ExampleClient_ResendDCVEmail() {
	c := demoClient()
	_, err := c.ResendDCVEmail(context.Background(), sps.ResendDCVEmailRequest{OrderNumber: 1234567})
	fmt.Println(err)

	c.LoginPassword = "wrong"
	_, err = c.ResendDCVEmail(context.Background(), sps.ResendDCVEmailRequest{OrderNumber: 1234567})
	fmt.Println(errors.Is(err, sps.ErrAuthentication))
	// Output:
	// <nil>
	// true
}

func ExampleClient_GetDCVEmailAddressList() {
	c := demoClient()
	list, err := c.GetDCVEmailAddressList(context.Background(), sps.GetDCVEmailAddressListRequest{DomainName: "www.example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range list.Levels {
		fmt.Println(l.Level, l.Emails[0], len(l.Emails))
	}
	fmt.Println(len(list.Emails()), "addresses")
	// Output:
	// 2 admin@example.com 5
	// 3 admin@www.example.com 5
	// 10 addresses
}

func ExampleClient_GetMDCDomainDetails() {
	c := demoClient()
	r, err := c.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: 1234567})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range r.Domains {
		fmt.Printf("%s %s validated=%t\n", d.DomainName, d.DCVMethod, d.Validated())
	}
	// Output:
	// example.com EMAIL validated=false
}

func ExampleClient_AutoUpdateDCV() {
	c := demoClient()
	ctx := context.Background()
	// A new address must first be offered by GetDCVEmailAddressList.
	if _, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "example.com"}); err != nil {
		fmt.Println(err)
		return
	}
	_, err := c.AutoUpdateDCV(ctx, sps.AutoUpdateDCVRequest{
		OrderNumber:        1234567,
		DomainName:         "example.com",
		NewMethod:          sps.MethodEmail,
		NewDCVEmailAddress: "hostmaster@example.com",
	})
	fmt.Println(err)
	r, _ := c.GetMDCDomainDetails(ctx, sps.GetMDCDomainDetailsRequest{OrderNumber: 1234567, ShowStatusDetails: true})
	fmt.Println(r.Domains[0].DCVEmailAddress)
	// Output:
	// <nil>
	// hostmaster@example.com
}

func ExampleClient_String() {
	c := sps.Client{BaseURL: "https://secure.trust-provider.com", LoginName: "login_name", LoginPassword: "login_password"}
	fmt.Printf("%v\n", c)
	// Output: sps.Client{BaseURL:"https://secure.trust-provider.com", LoginName:"login_name", LoginPassword:"[REDACTED]"}
}
