package keyrate

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// A key gets its burst, then its rate; the refusal names the next whole
// second and says whether it is the first of a run.
func TestBurstThenRate(t *testing.T) {
	t.Parallel()
	l := New[string](2, 3)
	for i := range 3 {
		if ok, _, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, next, first := l.Allow("a", t0)
	if ok || !first || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("over the burst: ok %v, next %v, first %v; want refused, first, next %v", ok, next, first, t0.Add(time.Second))
	}
	if _, _, first := l.Allow("a", t0); first {
		t.Error("the second refusal of a run is reported as the first")
	}
	if ok, _, _ := l.Allow("b", t0); !ok {
		t.Error("another key is held back by the first one's bucket")
	}
	if ok, _, _ := l.Allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Error("half a second later, at two a second, there is no token")
	}
	if New[string](0, 10) != nil {
		t.Error("a rate of 0 should mean no limiter")
	}
	var none *Limiter[string]
	if ok, _, _ := none.Allow("a", t0); !ok {
		t.Error("a nil limiter refused")
	}
}

// Keys that come and go (a flood from ever new addresses) are forgotten
// once their buckets are full again, as soon as the map has doubled, so it
// stays bounded; keys whose buckets are not full are never forgotten, so a
// refused key cannot escape its limit by being swept.
func TestNewKeysAreForgottenAsFastAsTheyCome(t *testing.T) {
	t.Parallel()
	l := New[int](1000, 1) // a bucket is full again a millisecond after its use
	most := 0
	for i := range 50_000 {
		l.Allow(i, t0.Add(time.Duration(i)*time.Millisecond))
		most = max(most, l.Keys())
	}
	if most > minSweep+1 {
		t.Errorf("%d keys remembered at most, want at most %d", most, minSweep+1)
	}

	held := New[int](0.001, 1) // nothing refills during the test
	for i := range 3 * minSweep {
		held.Allow(i, t0)
	}
	if n := held.Keys(); n != 3*minSweep {
		t.Fatalf("%d keys remembered of %d with empty buckets", n, 3*minSweep)
	}
	if ok, _, _ := held.Allow(0, t0.Add(time.Second)); ok {
		t.Error("a key whose bucket was empty got a token after the sweeps")
	}
}

// A refusal's wait is rounded up to whole seconds, never down: a client
// that waits as told finds its token.
func TestRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ wait, want time.Duration }{
		{0, time.Second}, {300 * time.Millisecond, time.Second}, {time.Second, time.Second},
		{1200 * time.Millisecond, 2 * time.Second}, {1700 * time.Millisecond, 2 * time.Second},
	} {
		if got := RetryAfter(t0, t0.Add(c.wait)); got != c.want {
			t.Errorf("RetryAfter for a token %v away: %v, want %v", c.wait, got, c.want)
		}
	}
}
