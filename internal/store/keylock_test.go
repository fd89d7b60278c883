package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One holder per key at a time; other keys are not held up; a waiter whose
// context ends gives up; and no key stays in the map once nobody uses it.
func TestKeyLocks(t *testing.T) {
	t.Parallel()
	var k keyLocks
	ctx := context.Background()

	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := k.lock(ctx, "source:192.0.2.1")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders of one key at once, want 1", most.Load())
	}

	held, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := k.lock(ctx, "b") // would block if keys were shared
	if err != nil {
		t.Fatal(err)
	}
	other()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := k.lock(short, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held key past the context: %v", err)
	}
	if n := k.inUse(); n != 1 {
		t.Fatalf("%d keys in use while one is held, want 1", n)
	}
	held()
	if n := k.inUse(); n != 0 {
		t.Fatalf("%d keys left in the map, want 0", n)
	}
	again, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	again()
}
