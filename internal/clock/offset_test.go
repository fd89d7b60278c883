package clock_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/clock"
)

// The offset is read when attached, re-read within the refresh time after
// it changes elsewhere, kept when a read fails, and never negative.
func TestOffsetFollowsItsSource(t *testing.T) {
	base := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	o := clock.NewOffset(base, 20*time.Millisecond)
	if got := o.Now(); !got.Equal(base.Now()) {
		t.Fatalf("unattached: %v", got)
	}
	var stored atomic.Int64
	var fail atomic.Bool
	stored.Store(int64(time.Hour))
	if err := o.Attach(context.Background(), func(context.Context) (time.Duration, error) {
		if fail.Load() {
			return 0, errors.New("database down")
		}
		return time.Duration(stored.Load()), nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := o.Now().Sub(base.Now()); got != time.Hour {
		t.Fatalf("after attach: %v ahead", got)
	}
	stored.Store(int64(25 * time.Hour)) // another node moved it
	deadline := time.Now().Add(5 * time.Second)
	for o.Now().Sub(base.Now()) != 25*time.Hour {
		if time.Now().After(deadline) {
			t.Fatalf("the change was not seen: %v", o.Now().Sub(base.Now()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail.Store(true)
	time.Sleep(60 * time.Millisecond)
	if got := o.Now().Sub(base.Now()); got != 25*time.Hour {
		t.Fatalf("a failed read changed the offset: %v", got)
	}
	o.Set(-time.Hour)
	if o.Current() != 0 {
		t.Fatalf("negative offset kept: %v", o.Current())
	}
}

// What every reading of the time costs with the offset clock.
func BenchmarkOffsetNow(b *testing.B) {
	o := clock.NewOffset(clock.System, time.Hour)
	o.Attach(context.Background(), func(context.Context) (time.Duration, error) { return time.Minute, nil })
	b.ReportAllocs()
	for b.Loop() {
		o.Now()
	}
}
