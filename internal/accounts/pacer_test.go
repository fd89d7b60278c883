package accounts

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// Issue 16, item 3: refusals from one source beyond the burst wait for
// their turn, RefusalHold at most; another source's are not held.
func TestRefusalPacerHoldsASourceBeyondItsBurst(t *testing.T) {
	t.Parallel()
	p := newRefusalPacer()
	p.rate = 0.001 // no token comes back during the test
	for i := range p.burst {
		if d := p.delay("flood"); d != 0 {
			t.Fatalf("refusal %d of the burst held %v", i+1, d)
		}
	}
	if d := p.delay("flood"); d != p.hold {
		t.Fatalf("refusal beyond the burst held %v, want %v", d, p.hold)
	}
	if d := p.delay("clean"); d != 0 {
		t.Fatalf("another source's first refusal held %v", d)
	}
}

// Issue 16, item 3: a locked source's refusals beyond the burst are held
// before they are answered (so a flood of them cannot spin on the CPU), and
// none of them runs argon2id. Without the pacer the second refusal would be
// answered at once.
func TestLockedSourceRefusalsArePaced(t *testing.T) {
	t.Parallel()
	f := newLockoutFixture(t, store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")), LockoutPolicy{})
	f.auth.refusals.rate = 0.001
	f.auth.refusals.burst = 1
	f.auth.refusals.hold = 100 * time.Millisecond
	for i := range DefaultLockoutPolicy.LoginFailures {
		if f.try(t, "alice", "guess-"+string(rune('a'+i)), srcA) {
			t.Fatal("a wrong password was accepted")
		}
	}
	runs := f.auth.Verifications()
	if f.try(t, "alice", "alice-right", srcA) {
		t.Fatal("the locked source got in")
	}
	t0 := time.Now()
	if f.try(t, "alice", "alice-right", srcA) {
		t.Fatal("the locked source got in")
	}
	if d := time.Since(t0); d < f.auth.refusals.hold {
		t.Fatalf("the refusal beyond the burst was answered after %v, before its hold of %v", d, f.auth.refusals.hold)
	}
	if n := f.auth.Verifications() - runs; n != 0 {
		t.Fatalf("refusals ran argon2id %d times", n)
	}
	// The client that leaves is answered at once, still refused.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.auth.AuthenticateFrom(gone, "alice", "alice-right", srcA); err == nil {
		t.Fatal("the locked source got in")
	}
}
