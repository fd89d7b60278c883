package sps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The password has characters that escaping changes, and a core that
// no form of it loses.
const (
	secretCore = "Sh0uldN3verLeak"
	secret     = "p!" + secretCore + "&=+% /"
)

// leaks reports whether s holds any form of the password, or its core.
func leaks(s string) bool {
	for _, form := range []string{secret, secretCore, url.QueryEscape(secret), url.PathEscape(secret)} {
		if strings.Contains(s, form) {
			return true
		}
	}
	return false
}

// Every error of every kind, and everything a Client prints, is free of
// the password, even when the server echoes the request back.
func TestPasswordNeverInErrors(t *testing.T) {
	echo := func(status int, format string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			fmt.Fprintf(w, format, body)
		}
	}
	servers := map[string]http.HandlerFunc{
		// A proxy's error page quoting the request.
		"500 echo": echo(http.StatusInternalServerError, "<html><pre>%s</pre></html>"),
		// A long echo, so that cutting the snippet could split the password.
		"503 long echo": echo(http.StatusServiceUnavailable, strings.Repeat("x", 100)+"%s"),
		// A 200 page that is not an answer.
		"200 echo": echo(http.StatusOK, "request was: %s"),
		// An answer whose message and detail quote the password.
		"api echo": func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			pw := r.PostForm.Get("loginPassword")
			fmt.Fprintf(w, "errorCode=-16&errorMessage=%s&errorItem=%s&errorDetail=%s",
				url.QueryEscape("bad password "+pw), url.QueryEscape(pw), url.QueryEscape(url.QueryEscape(pw)))
		},
		"text echo": func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			fmt.Fprintf(w, "-4\nThe value of the '%s' argument is invalid!\n", r.PostForm.Get("loginPassword"))
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/?"+url.QueryEscape(secret), http.StatusTemporaryRedirect)
		},
	}
	var errs []error
	for name, h := range servers {
		srv := httptest.NewServer(h)
		c := &Client{BaseURL: srv.URL, LoginName: "login_name", LoginPassword: secret}
		_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{OrderNumber: 1})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		errs = append(errs, err)
		_, err = c.GetDCVEmailAddressList(context.Background(), GetDCVEmailAddressListRequest{DomainName: "example.com"})
		errs = append(errs, err)
		srv.Close()
	}
	// Network failures, with the URL in the error.
	c := &Client{BaseURL: "http://" + closedAddr(t), LoginName: "login_name", LoginPassword: secret}
	_, err := c.GetMDCDomainDetails(context.Background(), GetMDCDomainDetailsRequest{OrderNumber: 1})
	errs = append(errs, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.AutoUpdateDCV(ctx, AutoUpdateDCVRequest{OrderNumber: 1})
	errs = append(errs, err)
	// Configuration errors.
	for _, base := range []string{"http://example.net", "https://u:" + secret + "@%zz", "ftp://x"} {
		c := &Client{BaseURL: base, LoginPassword: secret}
		_, err := c.ResendDCVEmail(context.Background(), ResendDCVEmailRequest{})
		errs = append(errs, err)
	}

	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprint(errors.Unwrap(err))} {
			if leaks(s) {
				t.Errorf("error leaks the password: %s", s)
			}
		}
		var e *Error
		if errors.As(err, &e) && (leaks(e.Message) || leaks(e.Item) || leaks(e.Detail)) {
			t.Errorf("*Error fields leak the password: %+v", *e)
		}
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	c := &Client{BaseURL: "https://user:" + secret + "@dcv.example.net", LoginName: "login_name", LoginPassword: secret, HTTPClient: http.DefaultClient}
	var outs []string
	for _, v := range []any{c, *c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v), fmt.Sprint([]any{v}), fmt.Sprintf("%+v", struct{ C any }{v}))
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal: %v", err)
		}
		outs = append(outs, string(j))

		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("client", "c", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("client", "c", v)
		log.New(&buf, "", 0).Printf("%v %+v", v, v)
		outs = append(outs, buf.String())
	}
	for _, s := range outs {
		if leaks(s) {
			t.Errorf("printed the password: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(c), "login_name") || !strings.Contains(fmt.Sprint(c), redacted) {
		t.Errorf("String() = %s, want the login name and %s", c, redacted)
	}
}
