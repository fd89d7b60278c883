package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// Issue 16, item 3: a freed slot goes to the waiting sources in turn, so
// one source's queue does not starve another's first attempt; a waiter
// that gives up leaves no trace.
func TestFairSlotsServeSourcesInTurn(t *testing.T) {
	f := newFairSlots(1)
	ctx := context.Background()
	if err := f.acquire(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(src string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.acquire(ctx, src); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, src)
			mu.Unlock()
			f.release()
		}()
	}
	waitQueued := func(n int) {
		for {
			f.mu.Lock()
			q := 0
			for _, w := range f.queues {
				q += len(w)
			}
			f.mu.Unlock()
			if q == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := range 5 {
		start("flood")
		waitQueued(i + 1)
	}
	start("clean")
	waitQueued(6)
	gone, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.acquire(gone, "quitter") }()
	waitQueued(7)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter: %v", err)
	}
	f.release()
	wg.Wait()
	if i := slices.Index(order, "clean"); i != 1 {
		t.Fatalf("order of service %v: the clean source should come second, not behind the flood", order)
	}
	if f.free != 1 || len(f.ring) != 0 || len(f.queues) != 0 {
		t.Fatalf("left over: free %d ring %v queues %v", f.free, f.ring, f.queues)
	}
}

// BenchmarkFirstLoginUnderFlood measures a first login (no cached
// credential, one real argon2id run) from a clean source while 256
// connections from one other source send wrong passwords without pause,
// with no lockout to stop them (its worst case: before the flooding
// source reaches its lock). Reports the p50 and p99 latency.
func BenchmarkFirstLoginUnderFlood(b *testing.B) {
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
	if _, err := st.CreateAccount(ctx, store.Account{Login: "alice", PasswordHash: hash, Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	a := NewAuthenticator(st)
	flood, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	attacker := netip.MustParseAddr("198.51.100.66")
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for flood.Err() == nil {
				a.AuthenticateFrom(flood, "alice", "wrong", attacker)
			}
		}()
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
