package clock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Offset is a clock that runs ahead of a base clock by an offset kept
// elsewhere (the database, so that every node and every admin command sees
// the same time: docs/control.md, "The clock"). It re-reads the offset at
// most every Refresh when asked the time, so another node sees a change
// within Refresh; the node that makes a change sees it at once (Set).
//
// Reading the time costs two atomic loads and the monotonic clock while the
// cached offset is fresh.
type Offset struct {
	base    Clock
	refresh time.Duration

	mu   sync.Mutex // guards load
	load func(context.Context) (time.Duration, error)

	offset   atomic.Int64 // nanoseconds
	checked  atomic.Int64 // monotonic nanoseconds since start of the last read
	loading  atomic.Bool
	attached atomic.Bool // a source is attached: the offset is re-read
}

// DefaultRefresh is how long another node may take to see a changed offset.
const DefaultRefresh = time.Second

var monoStart = time.Now()

func mono() int64 { return int64(time.Since(monoStart)) }

// NewOffset returns a clock ahead of base by an offset of zero until a
// source is attached (Attach).
func NewOffset(base Clock, refresh time.Duration) *Offset {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	return &Offset{base: base, refresh: refresh}
}

// Attach sets where the offset is read, and reads it now.
func (o *Offset) Attach(ctx context.Context, load func(context.Context) (time.Duration, error)) error {
	o.mu.Lock()
	o.load = load
	o.mu.Unlock()
	o.attached.Store(load != nil)
	return o.Reload(ctx)
}

// Reload reads the offset now.
func (o *Offset) Reload(ctx context.Context) error {
	o.mu.Lock()
	load := o.load
	o.mu.Unlock()
	if load == nil {
		return nil
	}
	d, err := load(ctx)
	if err != nil {
		return err
	}
	o.offset.Store(int64(max(d, 0)))
	o.checked.Store(mono())
	return nil
}

// Set makes d the offset on this node at once (after storing it where
// every node reads it).
func (o *Offset) Set(d time.Duration) {
	o.offset.Store(int64(max(d, 0)))
	o.checked.Store(mono())
}

// Base is the clock the offset is added to.
func (o *Offset) Base() Clock { return o.base }

// Current is the offset in force on this node.
func (o *Offset) Current() time.Duration { return time.Duration(o.offset.Load()) }

// Now is the base clock's time plus the offset. When the cached offset is
// older than Refresh, one caller re-reads it in the background; callers
// meanwhile use the cached one. Without a source the offset stays zero.
func (o *Offset) Now() time.Time {
	if o.attached.Load() && mono()-o.checked.Load() > int64(o.refresh) && o.loading.CompareAndSwap(false, true) {
		go func() {
			defer o.loading.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if o.Reload(ctx) != nil {
				// Keep the cached offset; try again after Refresh.
				o.checked.Store(mono())
			}
		}()
	}
	return o.base.Now().Add(time.Duration(o.offset.Load()))
}
