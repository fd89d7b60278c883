package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/fairslots"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// waitWaiting waits until f has n attempts waiting, for 10 s at most.
func waitWaiting(t *testing.T, f *fairslots.Slots, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); f.Waiting() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts wait after 10 s, want %d", f.Waiting(), n)
		}
	}
}

// Issue 16, item 3: an attempt from a source whose queue is full does no
// hashing, reads nothing, and is not counted as a failure: it is answered
// ErrBusy after the pause, or as soon as its client leaves.
func TestBusySourceIsRefusedWithoutHashingOrCounting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newLockoutFixture(t, store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")), LockoutPolicy{})
	a := fx.auth
	a.slots = fairslots.New(1, 2)
	a.busyPause = 50 * time.Millisecond
	flood := netip.MustParseAddr("198.51.100.7")
	src, _ := SourceOf(flood)
	if err := a.slots.Acquire(ctx, src); err != nil { // the flood's run in progress
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 2 { // two passwords: attempts with one would share one run
		wg.Go(func() { a.AuthenticateFrom(ctx, "alice", "alice-wrong-"+strconv.Itoa(i), flood) })
	}
	waitWaiting(t, a.slots, 2)
	before := fx.failures(t, "alice", flood)
	t0 := time.Now()
	_, err := a.AuthenticateFrom(ctx, "alice", "alice-right", flood)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("attempt from a busy source: %v, want ErrBusy", err)
	}
	if d := time.Since(t0); d < a.busyPause {
		t.Fatalf("refused after %v, before the pause of %v", d, a.busyPause)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.AuthenticateFrom(gone, "alice", "alice-wrong", flood); !errors.Is(err, ErrBusy) {
		t.Fatalf("attempt whose client left: %v, want ErrBusy", err)
	}
	if n := a.Verifications(); n != 0 {
		t.Fatalf("%d argon2id runs for refused or waiting attempts", n)
	}
	if n := a.Busy(); n != 2 {
		t.Fatalf("Busy() = %d, want 2", n)
	}
	if after := fx.failures(t, "alice", flood); after != before {
		t.Fatalf("failures went from %d to %d: a refusal was counted", before, after)
	}
	a.slots.Release(src)
	wg.Wait()
	if after := fx.failures(t, "alice", flood); after != before+2*3 {
		t.Fatalf("failures %d after the two waiting wrong passwords ran, want %d", after, before+2*3)
	}
}

// failures is the sum of the failed-login counts an attempt of login from
// src counts against.
func (f *lockoutFixture) failures(t *testing.T, login string, src netip.Addr) int {
	t.Helper()
	at, err := f.auth.lockout.check(context.Background(), login, src, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range at.state.Failures {
		n += c.Failures
	}
	return n
}

// BenchmarkFirstLoginUnderFlood measures a first login (no cached
// credential, one real argon2id run) from a clean source while 256
// goroutines from one other source send wrong passwords without pause,
// with no lockout to stop them (its worst case: before the flooding
// source reaches its lock); "flood=0" is the same login without the flood,
// what the machine gives one argon2id run at the time. Reports the p50 and
// p99 latency.
//
//	go test ./internal/accounts -run '^$' -bench FirstLoginUnderFlood -benchtime 40x
func BenchmarkFirstLoginUnderFlood(b *testing.B) {
	for _, n := range []int{0, 256} {
		b.Run(fmt.Sprintf("flood=%d", n), func(b *testing.B) { benchFirstLogin(b, n) })
	}
}

func benchFirstLogin(b *testing.B, flooders int) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(b.TempDir(), "b.db")))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	hash, err := HashPassword("right-password", rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Direct().CreateAccount(ctx, model.Account{Login: "alice", PasswordHash: hash, Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	a := NewAuthenticator(st)
	flood, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	attacker := netip.MustParseAddr("198.51.100.66")
	for range flooders {
		wg.Go(func() {
			for flood.Err() == nil {
				a.AuthenticateFrom(flood, "alice", "wrong", attacker)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // let the flood fill the queue
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		a.mu.Lock()
		clear(a.cache) // a first login: no cached credential
		a.mu.Unlock()
		src := netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 250)})
		t0 := time.Now()
		if _, err := a.AuthenticateFrom(ctx, "alice", "right-password", src); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	stop()
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
