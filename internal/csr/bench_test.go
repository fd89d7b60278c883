package csr

import "testing"

// BenchmarkParseCheck measures what AutoApplySSL spends on a CSR: decode,
// the key checks (for RSA, the small-factor and Fermat checks), the
// signature, the names and the hashes.
func BenchmarkParseCheck(b *testing.B) {
	for name, der := range map[string][]byte{
		"rsa2048": makeCSR(b, rsaKey(), simple("example.com", "www.example.com")),
		"p256":    makeCSR(b, ecKey(), simple("example.com", "www.example.com")),
	} {
		text := pemOf(der)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := Parse(text)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Check(Rules{}); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Names(); err != nil {
					b.Fatal(err)
				}
				_ = r.Hashes()
			}
		})
	}
}
