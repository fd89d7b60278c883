// Package admission refuses new work that would write while the
// database's writes are backlogged: the calls of the API that write and
// the confirmation page's POST ask a Gate first, and a refused request is
// answered at once ("busy, retry in a second") instead of joining a queue
// that already holds writes older than the limit. Reads are never refused:
// they do not wait for the writer.
//
// The backlog is measured, not estimated: it is how long the oldest write
// still waiting to start has waited (store.WriteBacklog). A refusal comes
// before the request is judged or counted in any way (no password is
// checked and no code is looked up), so it tells nobody anything but that
// the service is busy, and it writes nothing.
package admission

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// DefaultLimit is the backlog above which writes are refused (serve's
// --write-backlog-limit). Under a load the service keeps up with, the
// oldest write waits for one batch of SQLite's group commit (a few
// milliseconds; BENCHMARKS.md); a quarter of a second means the writes
// arrive faster than the database takes them, or the machine stalls.
const DefaultLimit = 250 * time.Millisecond

// RetryAfter is what a refusal tells the client to wait.
const RetryAfter = time.Second

// Gate admits or refuses requests that would write. A nil Gate admits
// everything. Its methods are safe for concurrent use.
type Gate struct {
	backlog func() time.Duration
	limit   time.Duration
	log     *slog.Logger
	refused func() // hears of each refusal (the metrics); never nil

	refusing atomic.Bool // the last request asked was refused
}

// Config wires a Gate.
type Config struct {
	// Backlog is how long the oldest write now waiting has waited
	// (store.WriteBacklog).
	Backlog func() time.Duration
	// Limit is the backlog above which writes are refused; 0 or less
	// refuses nothing.
	Limit time.Duration
	Log   *slog.Logger
	// Refused, when set, hears of every refusal.
	Refused func()
}

// New returns a Gate, or nil (which admits everything) when the limit is
// off.
func New(cfg Config) *Gate {
	if cfg.Limit <= 0 || cfg.Backlog == nil {
		return nil
	}
	g := &Gate{backlog: cfg.Backlog, limit: cfg.Limit, log: cfg.Log, refused: cfg.Refused}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.refused == nil {
		g.refused = func() {}
	}
	return g
}

// Admit tells whether a request that would write may go on now. It logs
// the first refusal of a run and the first admission after one, not every
// refusal: an overload would flood the log.
func (g *Gate) Admit() bool {
	if g == nil {
		return true
	}
	backlog := g.backlog()
	if backlog <= g.limit {
		if g.refusing.Load() && g.refusing.CompareAndSwap(true, false) {
			g.log.Info("writes no longer backlogged: requests that write are admitted again", "backlog", backlog, "limit", g.limit)
		}
		return true
	}
	g.refused()
	if g.refusing.CompareAndSwap(false, true) {
		g.log.Warn("writes are backlogged: requests that write are refused until the oldest waits less than the limit",
			"backlog", backlog, "limit", g.limit)
	}
	return false
}
