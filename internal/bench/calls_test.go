package bench

import "testing"

// The address list's latency targets: the median p99 of the half-rate runs
// against 20 ms, and the slowest answer at 32 in flight against 100 ms;
// neither is checked when it was not measured.
func TestLatencyChecks(t *testing.T) {
	step := func(conc int, maxMS float64) CallStep {
		return CallStep{Call: callAddressList, Step: Step{Concurrency: conc, OK: 10, Latency: Latency{P99: maxMS / 2, Max: maxMS}}}
	}
	run := func(p99 float64) Step { return Step{Latency: Latency{P99: p99}} }
	for _, c := range []struct {
		table CallTable
		met   []bool
	}{
		{CallTable{Backend: "sqlite", Steps: []CallStep{step(4, 500)}}, nil},
		{CallTable{Backend: "sqlite", Steps: []CallStep{step(32, 100)}}, []bool{true}},
		{CallTable{Backend: "postgres", Steps: []CallStep{step(32, 100.5)}}, []bool{false}},
		{CallTable{Backend: "sqlite", HalfRate: &RateRuns{Share: 0.5, Best: 1000, Runs: []Step{run(5), run(30), run(20)}, MedianP99: 20}}, []bool{true}},
		{CallTable{Backend: "sqlite", HalfRate: &RateRuns{Share: 0.5, Best: 1000, Runs: []Step{run(21)}, MedianP99: 21}, Steps: []CallStep{step(32, 3)}}, []bool{false, true}},
	} {
		checks := c.table.latencyChecks()
		if len(checks) != len(c.met) {
			t.Fatalf("%+v: checks %+v, want %d", c.table, checks, len(c.met))
		}
		for i, ch := range checks {
			if ch.Met != c.met[i] {
				t.Errorf("%+v: %+v, want met %v", c.table, ch, c.met[i])
			}
		}
	}
	h := CallTable{Backend: "postgres", HalfRate: &RateRuns{Share: 0.5, Best: 1000, Runs: []Step{run(5), run(30)}, MedianP99: 17.5}}.latencyChecks()[0]
	if h.Target != "GetDCVEmailAddressList p99 ≤ 20 ms at 50% of its best throughput (PostgreSQL; median of runs)" ||
		h.Got != "17.50 ms at 500/s (runs: 5.00, 30.00 ms)" {
		t.Errorf("half-rate check reads %+v", h)
	}
}
