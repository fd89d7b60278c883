package costly

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/origin"
)

// One source gets its burst, then its rate; an exempt one has no rate; a
// refusal says to come back in a whole number of seconds; while the slots
// are taken a source waits, up to its queue, and gives up when its client
// does.
func TestGuard(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	local := netip.MustParseAddr("127.0.0.1")
	g := New(origin.Proxies{netip.PrefixFrom(local, 32)}, clk)
	ctx := context.Background()
	stranger := netip.MustParseAddr("198.51.100.7")
	for i := range DefaultBurst {
		release, _, err := g.Enter(ctx, stranger)
		if err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
		release()
	}
	if _, retry, err := g.Enter(ctx, stranger); !errors.Is(err, ErrBusy) || retry != time.Second {
		t.Fatalf("over the burst: %v, retry in %v; want ErrBusy and 1s", err, retry)
	}
	// The same /64 is the same source; another address is not.
	v6 := netip.MustParseAddr("2001:db8::1")
	for range DefaultBurst {
		release, _, err := g.Enter(ctx, v6)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	if _, _, err := g.Enter(ctx, netip.MustParseAddr("2001:db8::2")); !errors.Is(err, ErrBusy) {
		t.Errorf("another address of the same /64: %v, want ErrBusy", err)
	}
	clk.Advance(time.Second)
	release, _, err := g.Enter(ctx, stranger)
	if err != nil {
		t.Fatalf("a second later: %v", err)
	}

	// The slots (one on two processors, or half of them) are shared.
	held := []func(){release}
	for range g.slots.Size() - 1 {
		r, _, err := g.Enter(ctx, netip.MustParseAddr("203.0.113.9"))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	for range 3 * DefaultBurst { // no rate for the exempt address
		short, cancel := context.WithTimeout(ctx, time.Millisecond)
		_, _, err := g.Enter(short, local)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("this machine's request with every slot taken: %v, want its context's end", err)
		}
	}
	// With every slot taken, this machine's requests wait beyond the queue
	// a stranger is held to, and each gets its turn; a stranger's beyond
	// that queue are refused at once.
	queue := queuePerSlot * g.slots.Size()
	var wg sync.WaitGroup
	for range queue + 8 {
		wg.Go(func() {
			release, _, err := g.Enter(ctx, local)
			if err != nil {
				t.Errorf("this machine's request waiting beyond the queue: %v", err)
				return
			}
			release()
		})
	}
	other := netip.MustParseAddr("192.0.2.44")
	for range queue {
		wg.Go(func() {
			if release, _, err := g.Enter(ctx, other); err == nil {
				release()
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); g.slots.Waiting() < 2*queue+8; {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, want %d", g.slots.Waiting(), 2*queue+8)
		}
		time.Sleep(time.Millisecond)
	}
	if _, retry, err := g.Enter(ctx, other); !errors.Is(err, ErrBusy) || retry != time.Second {
		t.Fatalf("a stranger's request beyond its queue: %v, retry in %v; want ErrBusy and 1s", err, retry)
	}
	for _, r := range held {
		r()
	}
	wg.Wait()
	release, _, err = g.Enter(ctx, local)
	if err != nil {
		t.Fatalf("this machine's request with a slot free: %v", err)
	}
	release()
}
