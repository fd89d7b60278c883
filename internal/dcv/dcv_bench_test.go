package dcv

import (
	"crypto/rand"
	"testing"
)

// Benchmarks of random values: every new DCV email makes one (New) and
// every confirmation hashes one (Hash).
//
//	go test -run '^$' -bench . -benchmem ./internal/dcv

func benchValues() *RandomValues {
	key := make([]byte, 32)
	rand.Read(key)
	return NewRandomValues(key, rand.Reader)
}

func BenchmarkRandomValueNew(b *testing.B) {
	r := benchValues()
	for b.Loop() {
		if _, _, err := r.New(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomValueHash(b *testing.B) {
	r := benchValues()
	value, _, _ := r.New()
	for b.Loop() {
		r.Hash(value)
	}
}
