package sps

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/wire"
)

func TestDecodeAnswerFormats(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		format wire.Format
		code   wire.Code
	}{
		{"form success", "errorCode=0", wire.FormatForm, 0},
		{"form success, line end", "errorCode=0\r\n", wire.FormatForm, 0},
		{"form error", "errorCode=-47&errorMessage=DCV+emails+cannot+be+resent%21", wire.FormatForm, wire.CannotResend},
		{"form error, code not first", "errorMessage=Invalid Request&errorCode=-1", wire.FormatForm, wire.NotHTTPS},
		{"text success", "0\ndomain_name\tx.com\n", wire.FormatText, 0},
		{"text error", "-16\nIncorrect login details\n", wire.FormatText, wire.BadLogin},
		{"json", ` {"errorCode":-91,"errorMessage":"Permission denied!"}`, wire.FormatJSON, wire.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := decodeAnswer([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if a.format != tt.format || a.status.Code != tt.code {
				t.Errorf("format %d code %d, want %d %d", a.format, a.status.Code, tt.format, tt.code)
			}
		})
	}
	for _, bad := range []string{"", "  ", "<html><body>Service Unavailable</body></html>", "OK", `{"status":"ok"}`, "{not json"} {
		if _, err := decodeAnswer([]byte(bad)); err == nil {
			t.Errorf("decodeAnswer(%q) succeeded", bad)
		}
	}
}

func TestDecodeAddressList(t *testing.T) {
	levels := []LevelEmails{
		{2, []string{"admin@test-domain.org", "postmaster@test-domain.org"}},
		{3, []string{"admin@www.test-domain.org", "postmaster@www.test-domain.org"}},
	}
	tests := []struct {
		name string
		body string
		want GetDCVEmailAddressListResponse
	}{
		{
			// As an old client library of the vendor's API recorded it:
			// a space after each tab.
			name: "text, space after tab",
			body: "0\ndomain_name\twww.test-domain.org\nwhois_email\t support@test-domain.org\nlevel2_email\t admin@test-domain.org\nlevel2_email\t postmaster@test-domain.org\nlevel3_email\t admin@www.test-domain.org\nlevel3_email\t postmaster@www.test-domain.org\n",
			want: GetDCVEmailAddressListResponse{DomainName: "www.test-domain.org", WhoisEmails: []string{"support@test-domain.org"}, Levels: levels},
		},
		{
			name: "text, contract, CRLF, unknown key, blank lines",
			body: "0\r\ndomain_name\twww.test-domain.org\r\nwhois_email\tnone\r\nlevel3_email\tadmin@www.test-domain.org\r\nlevel2_email\tadmin@test-domain.org\r\nnew_key\tvalue\r\nlevel2_email\tpostmaster@test-domain.org\r\nlevel3_email\tpostmaster@www.test-domain.org\r\n\r\n\r\n",
			want: GetDCVEmailAddressListResponse{DomainName: "www.test-domain.org", Levels: levels},
		},
		{
			name: "json",
			body: `{"errorCode":0,"domainName":"www.test-domain.org","whoisEmail":[],` +
				`"level2Emails":["admin@test-domain.org","postmaster@test-domain.org"],` +
				`"level3Emails":["admin@www.test-domain.org","postmaster@www.test-domain.org"],` +
				`"dnsTxtEmails":["dcv@contact.example"],"caaEmails":[],"warnings":["CAA lookup for www.test-domain.org timed out"],"future":{"a":1}}`,
			want: GetDCVEmailAddressListResponse{DomainName: "www.test-domain.org", Levels: levels,
				DNSTXTEmails: []string{"dcv@contact.example"}, Warnings: []string{"CAA lookup for www.test-domain.org timed out"}},
		},
		{
			name: "json, whoisEmail as a string, null lists",
			body: `{"errorCode":"0","domainName":"x.org","whoisEmail":"none","level2Emails":null,"caaEmails":["ca@x.org"]}`,
			want: GetDCVEmailAddressListResponse{DomainName: "x.org", CAAEmails: []string{"ca@x.org"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := decodeAnswer([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeAddressList(a); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeDomainDetails(t *testing.T) {
	sent := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	validated := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	want := []DomainDetail{
		{DomainName: "example.com", DCVMethod: "EMAIL", DCVStatus: "Validated", DCVEmailAddress: "admin@example.com", LastSentAt: sent, ValidatedAt: validated},
		{DomainName: "www.example.com", DCVMethod: "HTTP_CSR_HASH", DCVStatus: "Awaiting Validation"},
	}
	tests := []struct {
		name string
		body string
		want []DomainDetail
	}{
		{"vendor form, one domain", "errorCode=0&1_domainName=test.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated",
			[]DomainDetail{{DomainName: "test.com", DCVMethod: "EMAIL", DCVStatus: "Validated"}}},
		{"form with details, groups out of order, empty times",
			"errorCode=0&2_domainName=www.example.com&1_domainName=example.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated" +
				"&1_dcvEmailAddress=admin%40example.com&1_lastSentAt=2026-03-01T09%3A30%3A00Z&1_validatedAt=2026-03-01T10:00:05Z" +
				"&2_dcvMethod=HTTP_CSR_HASH&2_dcvStatus=Awaiting+Validation&2_dcvEmailAddress=&2_lastSentAt=&2_validatedAt=&2_unknown=x",
			want},
		{"json, flat", `{"errorCode":0,"1_domainName":"example.com","1_dcvMethod":"EMAIL","1_dcvStatus":"Validated","1_dcvEmailAddress":"admin@example.com",` +
			`"1_lastSentAt":"2026-03-01T10:30:00+01:00","1_validatedAt":"2026-03-01T10:00:05Z","2_domainName":"www.example.com","2_dcvMethod":"HTTP_CSR_HASH","2_dcvStatus":"Awaiting Validation","2_lastSentAt":null}`,
			want},
		{"json, array", `{"errorCode":0,"domains":[{"domainName":"example.com","dcvMethod":"EMAIL","dcvStatus":"Validated","dcvEmailAddress":"admin@example.com",` +
			`"lastSentAt":"2026-03-01 09:30:00","validatedAt":"2026-03-01T10:00:05Z"},{"domainName":"www.example.com","dcvMethod":"HTTP_CSR_HASH","dcvStatus":"Awaiting Validation"}]}`,
			want},
		{"no domains", "errorCode=0", []DomainDetail{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := decodeAnswer([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeDomainDetails(a)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Domains) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got.Domains, tt.want)
			}
			for i := range got.Domains {
				g, w := got.Domains[i], tt.want[i]
				if !g.LastSentAt.Equal(w.LastSentAt) || !g.ValidatedAt.Equal(w.ValidatedAt) {
					t.Errorf("domain %d times %v %v, want %v %v", i, g.LastSentAt, g.ValidatedAt, w.LastSentAt, w.ValidatedAt)
				}
				g.LastSentAt, g.ValidatedAt, w.LastSentAt, w.ValidatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if g != w {
					t.Errorf("domain %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	a, _ := decodeAnswer([]byte("errorCode=0&1_domainName=a.com&1_lastSentAt=yesterday"))
	if _, err := decodeDomainDetails(a); err == nil {
		t.Error("a time that is not RFC 3339 was accepted")
	}
}

func TestAPIError(t *testing.T) {
	c := &Client{LoginPassword: "pw-123456"}
	tests := []struct {
		body string
		want Error
		kind error
	}{
		{"errorCode=-4&errorMessage=The+value+of+the+%27dcvEmailAddress%27+argument+is+invalid%21&errorItem=dcvEmailAddress",
			Error{Code: -4, Message: wire.Message(wire.InvalidArgument, "dcvEmailAddress"), Item: "dcvEmailAddress"}, ErrInvalidArgument},
		// The text format has no errorItem: it is read from the message.
		{"-3\nThe 'domainName' argument is missing!\n", Error{Code: -3, Message: wire.Message(wire.MissingArgument, "domainName"), Item: "domainName"}, ErrInvalidArgument},
		{"errorCode=-2&errorItem=foo", Error{Code: -2, Message: wire.Message(wire.UnknownArgument, "foo"), Item: "foo"}, ErrInvalidArgument},
		{"errorCode=-16", Error{Code: -16, Message: wire.Message(wire.BadLogin, "")}, ErrAuthentication},
		{`{"errorCode":-91,"errorMessage":"Permission denied!"}`, Error{Code: -91, Message: "Permission denied!"}, ErrPermission},
		{"errorCode=-47&errorMessage=DCV+emails+cannot+be+resent%21&errorDetail=next+resend+allowed+at+2026-03-01T10:01:00Z",
			Error{Code: -47, Message: "DCV emails cannot be resent!", Detail: "next resend allowed at 2026-03-01T10:01:00Z"}, ErrCannotResend},
		{"errorCode=-14&errorMessage=An+unknown+error+occurred%21", Error{Code: -14, Message: "An unknown error occurred!"}, nil},
		{"errorCode=-999&errorMessage=Something+new", Error{Code: -999, Message: "Something new"}, nil},
	}
	kinds := []error{ErrAuthentication, ErrPermission, ErrInvalidArgument, ErrCannotResend, ErrTransport}
	for _, tt := range tests {
		err := checkStatus(c, tt.body)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v is not an *Error", tt.body, err)
			continue
		}
		if *e != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.body, *e, tt.want)
		}
		for _, k := range kinds {
			if errors.Is(err, k) != (k == tt.kind) {
				t.Errorf("%q: errors.Is(%v) = %t", tt.body, k, !(k == tt.kind))
			}
		}
	}
	err := checkStatus(c, "errorCode=-4&errorMessage=The+value+of+the+%27orderNumber%27+argument+is+invalid%21&errorItem=orderNumber&errorDetail=no+such+order")
	if got, want := err.Error(), "errorCode -4: The value of the 'orderNumber' argument is invalid! (orderNumber): no such order"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := checkStatus(c, "errorCode=0"); err != nil {
		t.Errorf("success: %v", err)
	}
	if err := checkStatus(c, "<html>"); !errors.Is(err, ErrTransport) {
		t.Errorf("undecodable body: %v, want ErrTransport", err)
	}
}

func checkStatus(c *Client, body string) error {
	_, err := c.decodeStatus("ResendDCVEmail", 1, []byte(body))
	return err
}

var fuzzSeeds = []string{
	"errorCode=0",
	"errorCode=-4&errorMessage=The+value+of+the+%27domainName%27+argument+is+invalid%21&errorItem=domainName",
	"errorCode=0&1_domainName=a.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated&1_lastSentAt=2026-03-01T09:30:00Z",
	"0\ndomain_name\twww.example.com\nwhois_email\t none\nlevel2_email\tadmin@example.com\r\n\r\n",
	"-16\nIncorrect login details, account is locked, password has expired, or your source IP is blocked!\n",
	`{"errorCode":0,"domainName":"x","level2Emails":["admin@x"],"dnsTxtEmails":[],"warnings":["w"]}`,
	`{"errorCode":0,"domains":[{"domainName":"a","lastSentAt":"bad"}],"1_domainName":"b"}`,
	"level99999999999999_email\tx",
}

// fuzzAll runs every decoder of this package on body; none may panic.
func fuzzAll(t *testing.T, body []byte) {
	c := &Client{LoginPassword: "secret"}
	_ = checkStatus(c, string(body))
	a, err := decodeAnswer(body)
	if err != nil {
		return
	}
	list := decodeAddressList(a)
	_ = list.Emails()
	_, _ = decodeDomainDetails(a)
	if a.status.Code < 0 {
		_ = c.apiError(a.status).Error()
	}
}

func FuzzDecodeForm(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Force the form path whatever the first line looks like.
		fuzzAll(t, []byte("errorCode=0&"+s))
		fuzzAll(t, []byte(s))
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzAll(t, []byte("0\n"+s))
		fuzzAll(t, []byte("-4\n"+s))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzAll(t, []byte(s))
		fuzzAll(t, []byte(`{"errorCode":0,`+s))
	})
}
