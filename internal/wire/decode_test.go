package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeForm(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Pair
	}{
		{"success", "errorCode=0", []Pair{{Name: "errorCode", Value: "0"}}},
		{"error in contract order", "errorCode=-4&errorMessage=The+value+of+the+%27orderNumber%27+argument+is+invalid%21&errorItem=orderNumber",
			[]Pair{{Name: "errorCode", Value: "-4"}, {Name: "errorMessage", Value: "The value of the 'orderNumber' argument is invalid!"}, {Name: "errorItem", Value: "orderNumber"}}},
		// Vendor-style: raw spaces, trailing '&', a line end.
		{"unescaped and trailing", "errorCode=-2&errorItem=field&errorMessage=Invalid Request&\r\n",
			[]Pair{{Name: "errorCode", Value: "-2"}, {Name: "errorItem", Value: "field"}, {Name: "errorMessage", Value: "Invalid Request"}}},
		{"indexed groups", "errorCode=0&1_domainName=test.com&1_dcvMethod=EMAIL&1_dcvStatus=Awaiting+Validation",
			[]Pair{{Name: "errorCode", Value: "0"}, {Name: "1_domainName", Value: "test.com"}, {Name: "1_dcvMethod", Value: "EMAIL"}, {Name: "1_dcvStatus", Value: "Awaiting Validation"}}},
		{"bad escape kept", "errorCode=-14&errorDetail=100%+sure", []Pair{{Name: "errorCode", Value: "-14"}, {Name: "errorDetail", Value: "100%+sure", Bad: true}}},
		{"bom and blanks", "\xef\xbb\xbf errorCode=0&&a", []Pair{{Name: "errorCode", Value: "0"}, {Name: "a", Value: ""}}},
		{"empty", "  \n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeForm([]byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeForm(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestFormStatus(t *testing.T) {
	tests := []struct {
		body    string
		want    Status
		wantErr bool
	}{
		{"errorCode=0", Status{Code: OK}, false},
		{"errorCode=-16&errorMessage=x&errorItem=&errorDetail=d", Status{Code: BadLogin, Message: "x", Detail: "d"}, false},
		{"ErrorCode=-4&errorItem=a&errorItem=b", Status{Code: InvalidArgument, Item: "a"}, false},
		{"errorCode=+1", Status{Code: 1}, false},
		{"errorMessage=no+code", Status{Message: "no code"}, true},
		{"errorCode=zero", Status{}, true},
		{"<html><body>502 Bad Gateway</body></html>", Status{}, true},
		{"errorCode=99999999999", Status{}, true},
	}
	for _, tt := range tests {
		got, err := FormStatus(DecodeForm([]byte(tt.body)))
		if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrNoStatus)) {
			t.Errorf("FormStatus(%q) error = %v, want error %v", tt.body, err, tt.wantErr)
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("FormStatus(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	list := []Pair{
		{Name: "domain_name", Value: "www.test-domain.org"},
		{Name: "whois_email", Value: "none"},
		{Name: "level2_email", Value: "admin@test-domain.org"},
		{Name: "level3_email", Value: "admin@www.test-domain.org"},
	}
	tests := []struct {
		name  string
		body  string
		st    Status
		pairs []Pair
	}{
		{"contract", "0\ndomain_name\twww.test-domain.org\nwhois_email\tnone\nlevel2_email\tadmin@test-domain.org\nlevel3_email\tadmin@www.test-domain.org\n", Status{}, list},
		// The shape an old vendor client's tests recorded: a space after the tab.
		{"space after tab", "0\ndomain_name\twww.test-domain.org\nwhois_email\t none\nlevel2_email\t admin@test-domain.org\nlevel3_email\t admin@www.test-domain.org\n", Status{}, list},
		{"crlf and trailing blank lines", "0\r\ndomain_name\twww.test-domain.org\r\nwhois_email\tnone\r\nlevel2_email\tadmin@test-domain.org\r\nlevel3_email\tadmin@www.test-domain.org\r\n\r\n\r\n", Status{}, list},
		{"spaces instead of tab", "0\ndomain_name www.test-domain.org\nwhois_email   none\nlevel2_email admin@test-domain.org\nlevel3_email\tadmin@www.test-domain.org", Status{}, list},
		{"unknown key kept", "0\nfuture_key\tx\nbare\n", Status{}, []Pair{{Name: "future_key", Value: "x"}, {Name: "bare", Value: ""}}},
		// EncodeText's shape for an empty value: the tab, not the space in the key, separates.
		{"empty value after a key with a space", "0\n0 0\t\r\nname\t\n", Status{}, []Pair{{Name: "0 0", Value: ""}, {Name: "name", Value: ""}}},
		{"error", "-4\nThe value of the 'domainName' argument is invalid!\n", Status{Code: InvalidArgument, Message: "The value of the 'domainName' argument is invalid!"}, nil},
		{"error crlf", "-16\r\nIncorrect login details, account is locked, password has expired, or your source IP is blocked!\r\n", Status{Code: BadLogin, Message: Message(BadLogin, "")}, nil},
		{"error on one line", "-47 DCV emails cannot be resent!\n", Status{Code: CannotResend, Message: "DCV emails cannot be resent!"}, nil},
		{"error with item and detail", "-4\nmsg\nerrorItem\tdomainName\nerrorDetail\tx\n", Status{Code: InvalidArgument, Message: "msg", Item: "domainName", Detail: "x"}, nil},
		{"leading blank line and bom", "\xef\xbb\xbf\n0\n", Status{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, pairs, err := DecodeText([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeText: %v", err)
			}
			if st != tt.st {
				t.Errorf("status = %+v, want %+v", st, tt.st)
			}
			if !reflect.DeepEqual(pairs, tt.pairs) {
				t.Errorf("pairs = %+v, want %+v", pairs, tt.pairs)
			}
		})
	}
	for _, bad := range []string{"", "\n\n", "errorCode=0", "<html>", "zero\nx\ty"} {
		if _, _, err := DecodeText([]byte(bad)); !errors.Is(err, ErrNoStatus) {
			t.Errorf("DecodeText(%q) error = %v, want ErrNoStatus", bad, err)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		body string
		want Status
	}{
		{`{"errorCode":0,"domainName":"example.com"}`, Status{}},
		{`{"errorCode":-4,"errorMessage":"The value of the 'domainName' argument is invalid!","errorItem":"domainName"}` + "\n", Status{Code: InvalidArgument, Message: "The value of the 'domainName' argument is invalid!", Item: "domainName"}},
		{`{"errorCode":"-16","errorMessage":"m"}`, Status{Code: BadLogin, Message: "m"}},
		{`{"ErrorCode":-47.0,"errorDetail":null}`, Status{Code: CannotResend}},
		{`{"errorCode":-14,"errorDetail":{"requestId":"r1"}}`, Status{Code: Internal, Detail: `{"requestId":"r1"}`}},
	}
	for _, tt := range tests {
		st, obj, err := DecodeJSON([]byte(tt.body))
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", tt.body, err)
			continue
		}
		if st != tt.want {
			t.Errorf("DecodeJSON(%s) = %+v, want %+v", tt.body, st, tt.want)
		}
		if len(obj) == 0 {
			t.Errorf("DecodeJSON(%s) returned no members", tt.body)
		}
	}
	for _, bad := range []string{``, `null`, `[]`, `{}`, `{"errorCode":true}`, `{"errorCode":0.5}`, `{"errorCode":1e300}`, `{"errorCode":0`} {
		if _, _, err := DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%s) succeeded, want an error", bad)
		}
	}
}

func TestItemFromMessage(t *testing.T) {
	for _, r := range Table() {
		got := ItemFromMessage(r.Code, Message(r.Code, "dcvEmailAddress"))
		want := ""
		if strings.Contains(r.Message, itemPlaceholder) {
			want = "dcvEmailAddress"
		}
		if got != want {
			t.Errorf("ItemFromMessage(%d) = %q, want %q", r.Code, got, want)
		}
	}
	if got := ItemFromMessage(InvalidArgument, "something else"); got != "" {
		t.Errorf("ItemFromMessage on a foreign message = %q", got)
	}
	if got := ItemFromMessage(Code(-999), "x"); got != "" {
		t.Errorf("ItemFromMessage on an unknown code = %q", got)
	}
}

// The decoders read back what the encoders write.
func TestDecodeRoundTrip(t *testing.T) {
	e := &Error{Code: InvalidArgument, Item: "domainName", Detail: "request r-1"}
	for _, f := range []Format{FormatForm, FormatText, FormatJSON} {
		var st Status
		var err error
		body := EncodeError(f, e)
		switch f {
		case FormatForm:
			st, err = FormStatus(DecodeForm(body))
		case FormatText:
			st, _, err = DecodeText(body)
		case FormatJSON:
			st, _, err = DecodeJSON(body)
		}
		if err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		want := Status{Code: e.Code, Message: e.Message(), Item: e.Item, Detail: e.Detail}
		if f == FormatText { // the text format carries code and message only
			want.Item, want.Detail = "", ""
		}
		if st != want {
			t.Errorf("format %d: %+v, want %+v", f, st, want)
		}
	}
}

func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{
		"errorCode=0",
		"errorCode=-4&errorMessage=The+value+of+the+%27x%27+argument+is+invalid%21&errorItem=x",
		"errorCode=0&1_domainName=a.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated",
		"errorCode=-2&errorItem=field&errorMessage=Invalid Request&",
		"%zz=%&&==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs := DecodeForm([]byte(s))
		_, _ = FormStatus(pairs)
		// What EncodeForm writes decodes to the same pairs, empty names
		// aside (DecodeForm skips empty segments).
		var clean []Pair
		for _, p := range pairs {
			if p.Name != "" || p.Value != "" {
				clean = append(clean, Pair{Name: p.Name, Value: p.Value})
			}
		}
		if again := DecodeForm(EncodeForm(clean)); len(clean) > 0 && !reflect.DeepEqual(again, clean) {
			t.Errorf("round trip of %q: %+v != %+v", s, again, clean)
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{
		"0\ndomain_name\twww.example.com\nwhois_email\tnone\nlevel2_email\tadmin@example.com\n",
		"0\r\nlevel2_email\t admin@example.com\r\n\r\n",
		"-4\nThe value of the 'domainName' argument is invalid!\n",
		"-16 Incorrect\n",
		"\xef\xbb\xbf\n\n-1\t\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, pairs, err := DecodeText([]byte(s))
		if err != nil {
			return
		}
		for _, p := range pairs {
			if strings.ContainsAny(p.Name, "\n") || strings.ContainsAny(p.Value, "\n") {
				t.Errorf("pair %+v spans lines", p)
			}
		}
		_ = ItemFromMessage(st.Code, st.Message)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"errorCode":0,"domainName":"www.example.com","whoisEmail":[],"level2Emails":["admin@example.com"],"dnsTxtEmails":[],"caaEmails":[]}`,
		`{"errorCode":-4,"errorMessage":"The value of the 'domainName' argument is invalid!","errorItem":"domainName"}`,
		`{"errorCode":"0","1_domainName":"a.com"}`,
		`{"errorCode":-1e2}`,
		`[1,2]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, obj, err := DecodeJSON([]byte(s))
		if err == nil && obj == nil {
			t.Errorf("DecodeJSON(%q) succeeded without an object", s)
		}
		for _, v := range obj {
			_ = JSONString(v)
		}
	})
}
