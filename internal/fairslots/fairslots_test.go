package fairslots

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until f has n attempts waiting, for 10 s at most.
func waitQueued(t *testing.T, f *Slots, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); f.Waiting() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts wait after 10 s, want %d", f.Waiting(), n)
		}
	}
}

// A freed slot goes to the waiting sources in turn, so
// one source's queue does not starve another's first attempt; a waiter
// that gives up leaves no trace.
func TestFairSlotsServeSourcesInTurn(t *testing.T) {
	t.Parallel()
	f := New(1, 32)
	ctx := context.Background()
	if err := f.Acquire(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(src string) {
		wg.Go(func() {
			if err := f.Acquire(ctx, src); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, src)
			mu.Unlock()
			f.Release(src)
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
	go func() { done <- f.Acquire(gone, "quitter") }()
	waitQueued(t, f, f.queueMax+2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter: %v", err)
	}
	f.Release("flood")
	wg.Wait()
	if i := slices.Index(order, "clean"); i != 1 {
		t.Fatalf("order of service %v: the clean source should come second, not behind the flood", order)
	}
	if f.free != 1 || len(f.ring) != 0 || len(f.queues) != 0 || len(f.running) != 0 {
		t.Fatalf("left over: free %d ring %v queues %v running %v", f.free, f.ring, f.queues, f.running)
	}
}

// With two slots, one source holds at most one, so work from another
// source finds the other free at once instead of
// waiting for a flood's run to end. (Before, the flood held both, and the
// clean source waited for one of them.)
func TestFairSlotsKeepASlotForOtherSources(t *testing.T) {
	t.Parallel()
	f := New(2, 64)
	ctx := context.Background()
	if err := f.Acquire(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- f.Acquire(ctx, "flood") }()
	waitQueued(t, f, 1) // the flood's second attempt waits, though a slot is free
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.Acquire(short, "clean"); err != nil {
		t.Fatalf("the clean source did not get the free slot: %v", err)
	}
	select {
	case err := <-second:
		t.Fatalf("the flood's second attempt got a slot (%v) while it held one already", err)
	default:
	}
	f.Release("clean")
	f.Release("flood") // now the flood's waiter may have a slot
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	f.Release("flood")
	if f.free != 2 || len(f.running) != 0 || len(f.ring) != 0 {
		t.Fatalf("left over: free %d running %v ring %v", f.free, f.running, f.ring)
	}
	// Alone, a source still uses a slot at once.
	if one := New(1, 32); one.Acquire(ctx, "alone") != nil || one.free != 0 {
		t.Fatal("a lone source could not take the only slot")
	}
}

// One source has at most queueMax pieces of work waiting; the next is
// refused at once with ErrBusy, and other sources are not.
func TestFairSlotsRefuseASourceWithAFullQueue(t *testing.T) {
	t.Parallel()
	f := New(2, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range f.share {
		if err := f.Acquire(ctx, "flood"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range f.queueMax {
		wg.Go(func() { f.Acquire(ctx, "flood") })
		waitQueued(t, f, i+1)
	}
	if !f.Full("flood") || f.Full("clean") {
		t.Fatal("full: want the flood's queue full and the clean source's not")
	}
	if err := f.Acquire(ctx, "flood"); !errors.Is(err, ErrBusy) {
		t.Fatalf("attempt over the queue: %v, want ErrBusy", err)
	}
	if err := f.Acquire(ctx, "clean"); err != nil {
		t.Fatalf("clean source: %v", err)
	}
	cancel()
	wg.Wait()
	if n := f.Waiting(); n != 0 {
		t.Fatalf("%d waiters left after they gave up", n)
	}
}
