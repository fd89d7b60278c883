// Package accounts authenticates API callers: argon2id password hashes, and
// an in-memory cache of successful verifications, because the legacy API
// sends the password with every call and argon2id is deliberately slow.
//
// It must not make DCV decisions; it answers only "who is this caller".
package accounts

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

var errBadHash = errors.New("accounts: malformed password hash")

// HashPassword returns the argon2id hash of password in PHC string format,
// with a fresh salt from random.
func HashPassword(password string, random io.Reader) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", fmt.Errorf("accounts: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummyHash is a hash in HashPassword's format, with the current
// parameters and an all-zero key that no password matches: verifying it
// costs what verifying a real hash costs (unknown logins spend that time),
// without running argon2id to make it (30 ms or more, and 19 MiB, at every
// start).
func dummyHash() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(make([]byte, saltLen)), b64.EncodeToString(make([]byte, argonKeyLen)))
}

// VerifyPassword reports whether password matches a hash made by
// HashPassword (with whatever parameters the hash records).
func VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	releaseSoon()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// releaseAfter is how long after the last argon2id run its memory goes back
// to the operating system.
const releaseAfter = time.Second

var release struct {
	mu    sync.Mutex
	timer *time.Timer
}

// releaseSoon hands the memory of argon2id runs (19 MiB each) back to the
// operating system once verifications pause. Left to itself the Go runtime
// keeps it until its next collection, which an idle server may not run for
// minutes: one login would more than double the resident memory of an idle
// server. At most one collection a second, and none while verifications
// keep coming.
func releaseSoon() {
	release.mu.Lock()
	defer release.mu.Unlock()
	if release.timer == nil {
		release.timer = time.AfterFunc(releaseAfter, debug.FreeOSMemory)
		return
	}
	release.timer.Reset(releaseAfter)
}
