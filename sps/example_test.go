package sps_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/dcvmail/dcvmail/internal/wire"
	"github.com/dcvmail/dcvmail/sps"
)

// vendor starts a server that answers as the vendor's service does, in
// its formats, for one account ("login_name", "login_password") and one
// order (1234567, two domains). The examples run against it; it is not
// part of what they show.
func vendor() *httptest.Server {
	form := func(w http.ResponseWriter, pairs ...wire.Pair) {
		w.Header().Set("Content-Type", wire.FormatForm.ContentType())
		w.Write(wire.EncodeForm(pairs))
	}
	fail := func(w http.ResponseWriter, f wire.Format, code wire.Code, item string) {
		w.Header().Set("Content-Type", f.ContentType())
		w.Write(wire.EncodeError(f, wire.Errorf(code, item)))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /products/", func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("loginName") != "login_name" || r.PostForm.Get("loginPassword") != "login_password" {
			fail(w, wire.FormatForm, wire.BadLogin, "")
			return
		}
		order := r.PostForm.Get("orderNumber")
		switch r.URL.Path {
		case "/products/!ResendDCVEmail":
			switch {
			case order == "":
				fail(w, wire.FormatForm, wire.MissingArgument, "orderNumber")
			case order != "1234567":
				fail(w, wire.FormatForm, wire.InvalidArgument, "orderNumber")
			default:
				w.Write(wire.Success)
			}
		case "/products/!GetDCVEmailAddressList":
			if r.PostForm.Get("domainName") != "www.example.com" {
				fail(w, wire.FormatText, wire.InvalidArgument, "domainName")
				return
			}
			w.Header().Set("Content-Type", wire.FormatText.ContentType())
			w.Write([]byte("0\n" +
				"domain_name\twww.example.com\n" +
				"whois_email\tnone\n" +
				"level2_email\tadmin@example.com\n" +
				"level2_email\tadministrator@example.com\n" +
				"level2_email\thostmaster@example.com\n" +
				"level2_email\tpostmaster@example.com\n" +
				"level2_email\twebmaster@example.com\n" +
				"level3_email\tadmin@www.example.com\n" +
				"level3_email\tadministrator@www.example.com\n" +
				"level3_email\thostmaster@www.example.com\n" +
				"level3_email\tpostmaster@www.example.com\n" +
				"level3_email\twebmaster@www.example.com\n"))
		case "/products/!GetMDCDomainDetails":
			if order != "1234567" {
				fail(w, wire.FormatForm, wire.InvalidArgument, "orderNumber")
				return
			}
			form(w,
				wire.Pair{Name: "errorCode", Value: "0"},
				wire.Pair{Name: "1_domainName", Value: "example.com"},
				wire.Pair{Name: "1_dcvMethod", Value: "EMAIL"},
				wire.Pair{Name: "1_dcvStatus", Value: "Validated"},
				wire.Pair{Name: "2_domainName", Value: "www.example.com"},
				wire.Pair{Name: "2_dcvMethod", Value: "EMAIL"},
				wire.Pair{Name: "2_dcvStatus", Value: "Awaiting Validation"},
			)
		case "/products/!AutoUpdateDCV":
			if order != "1234567" {
				fail(w, wire.FormatForm, wire.InvalidArgument, "orderNumber")
				return
			}
			w.Write(wire.Success)
		default:
			http.NotFound(w, r)
		}
	})
	return httptest.NewServer(mux)
}

// A resend, and what to do when it fails.
func Example() {
	srv := vendor()
	defer srv.Close()
	ctx := context.Background()

	c := &sps.Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: "login_password"}
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
	// errorCode -4: The value of the 'orderNumber' argument is invalid! (orderNumber)
}

func ExampleClient_ResendDCVEmail() {
	srv := vendor()
	defer srv.Close()

	c := &sps.Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: "login_password"}
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
	srv := vendor()
	defer srv.Close()

	c := &sps.Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: "login_password"}
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
	srv := vendor()
	defer srv.Close()

	c := &sps.Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: "login_password"}
	r, err := c.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: 1234567})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range r.Domains {
		fmt.Printf("%s %s validated=%t\n", d.DomainName, d.DCVMethod, d.Validated())
	}
	// Output:
	// example.com EMAIL validated=true
	// www.example.com EMAIL validated=false
}

func ExampleClient_AutoUpdateDCV() {
	srv := vendor()
	defer srv.Close()

	c := &sps.Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: "login_password"}
	_, err := c.AutoUpdateDCV(context.Background(), sps.AutoUpdateDCVRequest{
		OrderNumber:          1234567,
		DomainNames:          []string{"example.com", "www.example.com"},
		NewMethods:           []string{sps.MethodEmail, sps.MethodEmail},
		NewDCVEmailAddresses: []string{"admin@example.com", "admin@www.example.com"},
	})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleClient_String() {
	c := sps.Client{BaseURL: "https://secure.trust-provider.com", LoginName: "login_name", LoginPassword: "login_password"}
	fmt.Printf("%v\n", c)
	// Output: sps.Client{BaseURL:"https://secure.trust-provider.com", LoginName:"login_name", LoginPassword:"[REDACTED]"}
}
