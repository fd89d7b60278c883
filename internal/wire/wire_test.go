package wire

import (
	"strings"
	"testing"
)

// docs/api.md §1: every code's exact message.
func TestMessagesAreTheContracts(t *testing.T) {
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{&Error{Code: NotHTTPS}, "Request was not made over https!"},
		{&Error{Code: UnknownArgument, Item: "foo"}, "'foo' is an unrecognised argument!"},
		{&Error{Code: MissingArgument, Item: "loginName"}, "The 'loginName' argument is missing!"},
		{&Error{Code: InvalidArgument, Item: "orderNumber"}, "The value of the 'orderNumber' argument is invalid!"},
		{&Error{Code: Internal}, "An unknown error occurred!"},
		{&Error{Code: BadLogin}, "Incorrect login details, account is locked, password has expired, or your source IP is blocked!"},
		{&Error{Code: WrongMethod, Method: "GET"}, "Request used GET rather than POST!"},
		{&Error{Code: WrongMethod, Method: "PATCH"}, "Request used PATCH rather than POST!"},
		{&Error{Code: PermissionDenied}, "Permission denied!"},
		{&Error{Code: CannotResend}, "DCV emails cannot be resent!"},
	} {
		if got := tc.e.Message(); got != tc.want {
			t.Errorf("%d: %q, want %q", tc.e.Code, got, tc.want)
		}
	}
	if got := len(Table()); got != 9 {
		t.Errorf("table has %d rows, want 9", got)
	}
}

// docs/api.md §1: keys in the order errorCode, errorMessage, errorItem,
// errorDetail, escaped as url.QueryEscape does (space +, ' %27, ! %21).
func TestErrorFormTranscript(t *testing.T) {
	got := string(EncodeError(FormatForm, &Error{Code: InvalidArgument, Item: "dcvEmailAddress", Detail: "not offered in the last 24 hours"}))
	want := "errorCode=-4&errorMessage=The+value+of+the+%27dcvEmailAddress%27+argument+is+invalid%21&errorItem=dcvEmailAddress&errorDetail=not+offered+in+the+last+24+hours"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if got := string(EncodeError(FormatForm, &Error{Code: BadLogin})); got != "errorCode=-16&errorMessage=Incorrect+login+details%2C+account+is+locked%2C+password+has+expired%2C+or+your+source+IP+is+blocked%21" {
		t.Fatal(got)
	}
	if string(Success) != "errorCode=0" {
		t.Fatal("success body")
	}
}

// docs/api.md §3: text errors are the code on line 1, the message on 2;
// JSON errors carry the same keys as the form.
func TestTextAndJSONErrors(t *testing.T) {
	e := &Error{Code: MissingArgument, Item: "domainName"}
	if got := string(EncodeError(FormatText, e)); got != "-3\nThe 'domainName' argument is missing!\n" {
		t.Fatalf("%q", got)
	}
	if got := string(EncodeError(FormatJSON, e)); got != `{"errorCode":-3,"errorMessage":"The 'domainName' argument is missing!","errorItem":"domainName"}`+"\n" {
		t.Fatalf("%q", got)
	}
	if got := string(EncodeText([]Pair{{Name: "domain_name", Value: "example.com"}})); got != "0\ndomain_name\texample.com\n" {
		t.Fatalf("%q", got)
	}
}

// docs/api.md §1: lenient parsing of bodies that real clients send.
func TestParseFormLenient(t *testing.T) {
	got := ParseForm("loginName=a+b&dcvEmailAddress=admin@example.com&url=https://x/y&&flag&bad=%zz&p=%21")
	want := []Pair{
		{Name: "loginName", Value: "a b"},
		{Name: "dcvEmailAddress", Value: "admin@example.com"},
		{Name: "url", Value: "https://x/y"},
		{Name: "flag", Value: ""},
		{Name: "bad", Value: "%zz", Bad: true},
		{Name: "p", Value: "!"},
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The -4 of an over-long body names the parameter that crosses the limit,
// even when the limit cuts its name.
func TestTruncatedName(t *testing.T) {
	body := "loginName=x&" + strings.Repeat("a", MaxBody-20) + "=1&orderNumber=" + strings.Repeat("9", 100)
	if got := TruncatedName(body); got != "orderNumber" {
		t.Fatalf("%q", got)
	}
	if got := TruncatedName("loginName=" + strings.Repeat("x", MaxBody)); got != "loginName" {
		t.Fatalf("%q", got)
	}
}

// FuzzParseForm: the parser never panics, and what EncodeForm writes it
// reads back unchanged.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"a=b", "a=b&c=d", "%zz=1", "a=%", "&&=&", "loginName=x%0D%0A", "a=b=c"} {
		f.Add(s, "name", "value")
	}
	f.Fuzz(func(t *testing.T, raw, name, value string) {
		for _, p := range ParseForm(raw) {
			if !p.Bad && strings.ContainsAny(p.Name, "&") {
				t.Fatalf("a name holds '&': %q", p.Name)
			}
		}
		if name == "" {
			return
		}
		got := ParseForm(string(EncodeForm([]Pair{{Name: name, Value: value}})))
		if len(got) != 1 || got[0].Name != name || got[0].Value != value || got[0].Bad {
			t.Fatalf("round trip of %q=%q gave %+v", name, value, got)
		}
	})
}
