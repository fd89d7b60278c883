package accounts

import (
	"context"
	"net/netip"
	"testing"
)

// issue 15: Unlock ends a login's lock (from the source that failed,
// issue 16) at once on both databases; the
// lock of another login stays; --source ends an address's (its /64 for
// IPv6); an unknown name is unlocked alike.
func TestUnlock(t *testing.T) {
	for _, b := range lockoutBackends {
		t.Run(b.name, func(t *testing.T) {
			f := newLockoutFixture(t, b.url(t), LockoutPolicy{LoginFailures: 3, SourceFailures: 10})
			ctx := context.Background()
			for range 3 {
				f.try(t, "alice", "guess", srcA)
				f.try(t, "bob", "guess", srcA)
				f.try(t, "ghost", "guess", srcA)
			}
			if f.try(t, "alice", "alice-right", srcA) || f.try(t, "bob", "bob-right", srcA) {
				t.Fatal("not locked")
			}
			if ok, err := Unlock(ctx, f.st, "alice", netip.Addr{}); !ok || err != nil {
				t.Fatalf("unlock alice: %v %v", ok, err)
			}
			if !f.try(t, "alice", "alice-right", srcA) {
				t.Fatal("alice still locked after Unlock")
			}
			if f.try(t, "bob", "bob-right", srcA) {
				t.Fatal("Unlock of alice unlocked bob")
			}
			if ok, err := Unlock(ctx, f.st, "ghost", netip.Addr{}); !ok || err != nil {
				t.Fatalf("unlock of an unknown name: %v %v", ok, err)
			}
			if ok, _ := Unlock(ctx, f.st, "nobody-failed", netip.Addr{}); ok {
				t.Fatal("reported a name that had no failures")
			}

			// An IPv6 source locked by its /64, unlocked by any address of it.
			v6a, v6b := netip.MustParseAddr("2001:db8:1:2::a"), netip.MustParseAddr("2001:db8:1:2::b")
			for i := range 10 {
				f.try(t, "user"+string(rune('a'+i%5)), "x", v6a)
			}
			if f.try(t, "alice", "alice-right", v6a) {
				t.Fatal("source not locked")
			}
			if ok, err := Unlock(ctx, f.st, "", v6b); !ok || err != nil {
				t.Fatalf("unlock source: %v %v", ok, err)
			}
			if !f.try(t, "alice", "alice-right", v6a) {
				t.Fatal("source still locked")
			}
		})
	}
}
