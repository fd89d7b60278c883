package admission_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/admission"
)

// A gate admits while the backlog is at most its limit, refuses above it,
// counts every refusal, and logs a run of refusals once when it starts and
// once when it ends.
func TestGate(t *testing.T) {
	var backlog atomic.Int64
	var refused int
	var log bytes.Buffer
	g := admission.New(admission.Config{
		Backlog: func() time.Duration { return time.Duration(backlog.Load()) },
		Limit:   100 * time.Millisecond,
		Log:     slog.New(slog.NewTextHandler(&log, nil)),
		Refused: func() { refused++ },
	})
	set := func(d time.Duration) { backlog.Store(int64(d)) }
	for _, step := range []struct {
		backlog time.Duration
		admit   bool
	}{
		{0, true}, {100 * time.Millisecond, true}, {101 * time.Millisecond, false}, {5 * time.Second, false},
		{0, true}, {time.Second, false}, {50 * time.Millisecond, true},
	} {
		set(step.backlog)
		if got := g.Admit(); got != step.admit {
			t.Fatalf("backlog %v: admitted %v, want %v", step.backlog, got, step.admit)
		}
	}
	if refused != 3 {
		t.Fatalf("%d refusals heard, want 3", refused)
	}
	if n := strings.Count(log.String(), "writes are backlogged"); n != 2 {
		t.Fatalf("%d warnings for two runs of refusals:\n%s", n, log.String())
	}
	if n := strings.Count(log.String(), "writes no longer backlogged"); n != 2 {
		t.Fatalf("%d notices of admissions after two runs:\n%s", n, log.String())
	}
}

// Without a limit there is no gate, and no gate admits everything.
func TestNoGate(t *testing.T) {
	long := func() time.Duration { return time.Hour }
	for _, limit := range []time.Duration{0, -time.Second} {
		if g := admission.New(admission.Config{Backlog: long, Limit: limit}); g != nil || !g.Admit() {
			t.Fatalf("limit %v: gate %v", limit, g)
		}
	}
}
