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

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// queued is how many attempts wait in f.
func (f *fairSlots) queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := 0
	for _, w := range f.queues {
		q += len(w)
	}
	return q
}

// waitQueued waits until f has n attempts waiting, for 10 s at most.
func waitQueued(t *testing.T, f *fairSlots, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); f.queued() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts wait after 10 s, want %d", f.queued(), n)
		}
	}
}

// Issue 16, item 3: a freed slot goes to the waiting sources in turn, so
// one source's queue does not starve another's first attempt; a waiter
// that gives up leaves no trace.
func TestFairSlotsServeSourcesInTurn(t *testing.T) {
	t.Parallel()
	f := newFairSlots(1)
	ctx := context.Background()
	if err := f.acquire(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(src string) {
		wg.Go(func() {
			if err := f.acquire(ctx, src); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, src)
			mu.Unlock()
			f.release(src)
		})
	}
	for i := range f.queueMax {
		start("flood")
		waitQueued(t, f, i+1)
	}
	start("clean")
	waitQueued(t, f, f.queueMax+1)
	gone, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.acquire(gone, "quitter") }()
	waitQueued(t, f, f.queueMax+2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter: %v", err)
	}
	f.release("flood")
	wg.Wait()
	if i := slices.Index(order, "clean"); i != 1 {
		t.Fatalf("order of service %v: the clean source should come second, not behind the flood", order)
	}
	if f.free != 1 || len(f.ring) != 0 || len(f.queues) != 0 || len(f.running) != 0 {
		t.Fatalf("left over: free %d ring %v queues %v running %v", f.free, f.ring, f.queues, f.running)
	}
}

// Issue 16, item 3: with two slots, one source holds at most one, so a
// first login from another source finds the other free at once instead of
// waiting for a flood's run to end. (Before, the flood held both, and the
// clean source waited for one of them.)
func TestFairSlotsKeepASlotForOtherSources(t *testing.T) {
	t.Parallel()
	f := newFairSlots(2)
	ctx := context.Background()
	if err := f.acquire(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- f.acquire(ctx, "flood") }()
	waitQueued(t, f, 1) // the flood's second attempt waits, though a slot is free
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.acquire(short, "clean"); err != nil {
		t.Fatalf("the clean source did not get the free slot: %v", err)
	}
	select {
	case err := <-second:
		t.Fatalf("the flood's second attempt got a slot (%v) while it held one already", err)
	default:
	}
	f.release("clean")
	f.release("flood") // now the flood's waiter may have a slot
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	f.release("flood")
	if f.free != 2 || len(f.running) != 0 || len(f.ring) != 0 {
		t.Fatalf("left over: free %d running %v ring %v", f.free, f.running, f.ring)
	}
	// Alone, a source still uses a slot at once.
	if one := newFairSlots(1); one.acquire(ctx, "alone") != nil || one.free != 0 {
		t.Fatal("a lone source could not take the only slot")
	}
}

// Issue 16, item 3: one source has at most queueMax attempts waiting; the
// next is refused at once with ErrBusy, and other sources are not.
func TestFairSlotsRefuseASourceWithAFullQueue(t *testing.T) {
	t.Parallel()
	f := newFairSlots(2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range f.share {
		if err := f.acquire(ctx, "flood"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range f.queueMax {
		wg.Go(func() { f.acquire(ctx, "flood") })
		waitQueued(t, f, i+1)
	}
	if !f.full("flood") || f.full("clean") {
		t.Fatal("full: want the flood's queue full and the clean source's not")
	}
	if err := f.acquire(ctx, "flood"); !errors.Is(err, ErrBusy) {
		t.Fatalf("attempt over the queue: %v, want ErrBusy", err)
	}
	if err := f.acquire(ctx, "clean"); err != nil {
		t.Fatalf("clean source: %v", err)
	}
	cancel()
	wg.Wait()
	if n := f.queued(); n != 0 {
		t.Fatalf("%d waiters left after they gave up", n)
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
	a.slots = newFairSlots(1)
	a.slots.queueMax = 2
	a.busyPause = 50 * time.Millisecond
	flood := netip.MustParseAddr("198.51.100.7")
	src, _ := SourceOf(flood)
	if err := a.slots.acquire(ctx, src); err != nil { // the flood's run in progress
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 2 { // two passwords: attempts with one would share one run
		wg.Go(func() { a.AuthenticateFrom(ctx, "alice", "alice-wrong-"+strconv.Itoa(i), flood) })
	}
	waitQueued(t, a.slots, 2)
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
	a.slots.release(src)
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
