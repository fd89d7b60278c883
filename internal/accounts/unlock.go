package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

// UnlockStore is what Unlock needs of the store; *store.Store satisfies it.
type UnlockStore interface {
	Setting(ctx context.Context, name string) (string, error)
	ClearLoginFailures(ctx context.Context, subjects ...string) (int64, error)
	ClearLoginFailuresWithPrefix(ctx context.Context, prefix string) (int64, error)
}

// Unlock forgets the failed logins of a login name, and so ends its lock on
// every node at once; with a valid source it also forgets those of that
// source address (or IPv6 /64). It tells whether there was anything to
// forget. An operator runs it; it does not need the account to exist, as
// names that are none are counted too.
func Unlock(ctx context.Context, st UnlockStore, login string, source netip.Addr) (bool, error) {
	var subjects []string
	var pairs string
	stored, err := st.Setting(ctx, loginKeySetting)
	if err != nil {
		return false, fmt.Errorf("accounts: lockout key: %w", err)
	}
	if stored != "" && login != "" {
		key, err := hex.DecodeString(stored)
		if err != nil || len(key) < 16 {
			return false, errors.New("accounts: stored lockout key is malformed")
		}
		name := loginSubject(key, login)
		subjects = append(subjects, name)
		pairs = pairSubject(name, "") // every source's count of this login
	}
	if src, ok := SourceOf(source); ok {
		subjects = append(subjects, sourcePrefix+src)
	}
	n, err := st.ClearLoginFailures(ctx, subjects...)
	if err != nil || pairs == "" {
		return n > 0, err
	}
	m, err := st.ClearLoginFailuresWithPrefix(ctx, pairs)
	return n+m > 0, err
}

// loginSubject is the subject a login name's failures are counted under: a
// keyed hash, so that a password typed into the name field is never stored.
func loginSubject(key []byte, login string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(login))
	return loginPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}
