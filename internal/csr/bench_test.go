package csr

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

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

// BenchmarkWorstKey is the costliest key a stranger can send to DecodeCSR
// (no login): an 8192-bit RSA modulus, which runs every weak-key check
// and the signature check.
func BenchmarkWorstKey(b *testing.B) {
	var n *big.Int
	for n == nil || new(big.Int).GCD(nil, nil, n, smallPrimes).Cmp(big.NewInt(1)) != 0 {
		n, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 8192))
		n.SetBit(n, 8191, 1)
	}
	text := pemOf(forge(b, &rsa.PublicKey{N: n, E: 65537}, nil, simple("example.com")))
	b.ReportAllocs()
	for b.Loop() {
		_ = Decode(text, nil)
	}
}
