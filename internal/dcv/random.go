package dcv

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
)

// RandomValueBytes is the entropy of a random value: 128 bits, above the
// 112 that BR 1.6.1 asks.
const RandomValueBytes = 16

// encoding writes random values in 26 characters of A-Z and 2-7, easy to
// read out and type, with no padding.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// codeShape matches a random value in a message's text.
var codeShape = regexp.MustCompile(`\b[A-Z2-7]{26}\b`)

// RandomValues makes random values and their keyed hashes. Only the hash is
// stored; the value itself travels only in the rendered message.
type RandomValues struct {
	key    []byte
	random io.Reader
}

// NewRandomValues returns a maker with an HMAC key and a random source
// (crypto/rand.Reader outside tests).
func NewRandomValues(key []byte, random io.Reader) *RandomValues {
	return &RandomValues{key: key, random: random}
}

// New returns a fresh random value and its hash.
func (r *RandomValues) New() (value, hash string, err error) {
	b := make([]byte, RandomValueBytes)
	if _, err := io.ReadFull(r.random, b); err != nil {
		return "", "", fmt.Errorf("dcv: random value: %w", err)
	}
	value = encoding.EncodeToString(b)
	return value, r.Hash(value), nil
}

// Hash is the keyed hash (HMAC-SHA256) under which a value is stored.
func (r *RandomValues) Hash(value string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Matches compares a submitted value with a stored hash in constant time.
func (r *RandomValues) Matches(value, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(r.Hash(value)), []byte(hash)) == 1
}

// Find returns the random value in text whose hash is hash, or "". The
// built-in mailbox uses it to show each captured message's code without the
// store ever keeping a plain copy beside the message.
func (r *RandomValues) Find(text, hash string) string {
	for _, c := range codeShape.FindAllString(text, -1) {
		if r.Matches(c, hash) {
			return c
		}
	}
	return ""
}
