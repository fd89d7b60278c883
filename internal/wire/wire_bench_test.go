package wire

import "testing"

// Benchmarks of the wire formats on a ResendDCVEmail's path:
//
//	go test -run '^$' -bench . -benchmem ./internal/wire

// resendBody is a typical request body: what the vendor's sample sends.
const resendBody = "loginName=login_name&loginPassword=login_password&orderNumber=1234567&dcvEmailAddress=admin%40example.com"

func BenchmarkParseForm(b *testing.B) {
	b.SetBytes(int64(len(resendBody)))
	for b.Loop() {
		if p := ParseForm(resendBody); len(p) != 4 {
			b.Fatal(p)
		}
	}
}

func BenchmarkEncodeForm(b *testing.B) {
	pairs := []Pair{{Name: "errorCode", Value: "0"}, {Name: "orderNumber", Value: "1234567"},
		{Name: "dcvEmailAddress", Value: "admin@example.com"}, {Name: "status", Value: "Awaiting Validation (Email sent)"}}
	for b.Loop() {
		EncodeForm(pairs)
	}
}

func BenchmarkEncodeError(b *testing.B) {
	e := &Error{Code: CannotResend, Detail: "resend limit reached; next resend allowed at 2026-11-26T12:05:00Z"}
	for _, f := range []struct {
		name   string
		format Format
	}{{"form", FormatForm}, {"text", FormatText}, {"json", FormatJSON}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				EncodeError(f.format, e)
			}
		})
	}
}
