package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpuModel"`
	MemoryGiB float64 `json:"memoryGiB"`
	Go        string  `json:"go"`
	OS        string  `json:"os"`
	Kernel    string  `json:"kernel"`
	LoadStart string  `json:"loadAverageAtStart"` // /proc/loadavg: others' work shows here
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n float64
		fmt.Sscanf(kb, "%f", &n)
		m.MemoryGiB = round(n/1024/1024, 1)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		m.LoadStart = strings.Join(f[:min(3, len(f))], " ")
	}
	return m
}

// procField is the value of the first "name : value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// version is the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+changes"
			}
		}
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

// Targets of issue 8 (BENCHMARKS.md).
const (
	targetRatio    = 0.25
	targetP99MS    = 20.0
	targetLargeP99 = 1.5
	targetDelivery = 1000.0
	targetIdleMB   = 40.0
	targetStartMS  = 200.0
)

// Check is one target and whether the run met it.
type Check struct {
	Target string `json:"target"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
}

// Checks compares the run with the targets.
func (r *Result) Checks() []Check {
	var out []Check
	add := func(target, got string, met bool) { out = append(out, Check{target, got, met}) }
	add("ResendDCVEmail ≥ 25% of the ceiling", fmt.Sprintf("%.0f / %.0f = %.1f%%", r.ResendMax, r.CeilingMax, 100*r.Ratio), r.Ratio >= targetRatio)
	if r.SmallP99 > 0 {
		add(fmt.Sprintf("p99 ≤ %.0f ms at %.0f%% of the best throughput of the same requests (%.0f/s, orders picked at random; median of runs)", targetP99MS, 100*r.Options.RateShare, r.RateBase),
			fmt.Sprintf("%.2f ms (the ceiling at the same rate: %.2f ms; deliveries running, at %.0f/s: %.2f ms)", r.SmallP99, r.CeilingP99, r.SustainedRate, r.SustainedP99), r.SmallP99 <= targetP99MS)
	}
	if r.RecentP99 > 0 && r.SmallP99 > 0 {
		q := r.RecentP99 / r.SmallP99
		add(fmt.Sprintf("p99 with %s orders ≤ 1.5 × with %s, same working set (the newest %s; medians)",
			thousands(r.Options.LargeOrders), thousands(r.Options.Orders), thousands(r.Options.Orders)),
			fmt.Sprintf("%.2f / %.2f ms = %.2f×", r.RecentP99, r.SmallP99, q), q <= targetLargeP99)
	}
	if r.LargeP99 > 0 && r.SmallP99 > 0 {
		q := r.LargeP99 / r.SmallP99
		add(fmt.Sprintf("p99 with %s orders ≤ 1.5 × with %s, orders picked from all (medians)", thousands(r.Options.LargeOrders), thousands(r.Options.Orders)),
			fmt.Sprintf("%.2f / %.2f ms = %.2f×", r.LargeP99, r.SmallP99, q), q <= targetLargeP99)
	}
	if r.Delivery.Messages > 0 {
		add("outbox → SMTP ≥ 1,000 messages/s", fmt.Sprintf("%.0f /s", r.Delivery.PerSecond), r.Delivery.PerSecond >= targetDelivery)
	}
	out = append(out, r.callChecks()...)
	out = append(out, r.nodesCheck()...)
	for _, s := range r.Starts {
		add(fmt.Sprintf("idle RSS ≤ 40 MB (%s orders)", thousands(s.Orders)),
			fmt.Sprintf("%.1f MB idle, %.1f MB after %d resends", s.IdleRSSMB, s.AfterLoadRSSMB, s.Requests),
			max(s.IdleRSSMB, s.AfterLoadRSSMB) <= targetIdleMB)
		add(fmt.Sprintf("start to ready ≤ 200 ms (%s orders)", thousands(s.Orders)),
			fmt.Sprintf("median %.0f ms, max %.0f ms", s.MedianMS, s.MaxMS), s.MedianMS <= targetStartMS)
	}
	return out
}

// WriteJSON writes the result file.
func (r *Result) WriteJSON(path string) error {
	type withChecks struct {
		*Result
		Checks []Check `json:"checks"`
	}
	b, err := json.MarshalIndent(withChecks{r, r.Checks()}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteText prints the results for a terminal.
func (r *Result) WriteText(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "dcvmail bench %s, %s\n", r.Version, r.Date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %.1f GiB, %s %s, load average at start %s; database %s\n\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.Go, m.OS, m.LoadStart, r.Backend)
	fmt.Fprintf(w, "closed loop, %s orders (answers/s; latency ms)\n", thousands(r.Options.Orders))
	fmt.Fprintf(w, "%6s | %9s %7s %7s %7s %6s | %9s %7s %7s %7s %6s %6s | %6s\n", "conc", "ceiling/s", "p50", "p99", "p99.9", "µsCPU",
		"resend/s", "p50", "p99", "p99.9", "µsCPU", "+deliv", "ratio")
	for i := range r.Ceiling {
		c, s := r.Ceiling[i], r.Resend[i]
		fmt.Fprintf(w, "%6d | %9.0f %7.2f %7.2f %7.2f %6.0f | %9.0f %7.2f %7.2f %7.2f %6.0f %6.0f | %5.1f%%\n",
			c.Concurrency, c.Throughput, c.P50, c.P99, c.P999, c.CPUMicros, s.Throughput, s.P50, s.P99, s.P999, s.CPUMicros, s.CPUWithDelivery, pct(s.Throughput, c.Throughput))
	}
	fmt.Fprintf(w, "best: ceiling %.0f/s, resend %.0f/s, ratio %.1f%%\n\n", r.CeilingMax, r.ResendMax, 100*r.Ratio)
	if len(r.Rate) > 0 {
		fmt.Fprintf(w, "constant rate (open loop), random orders\n")
		fmt.Fprintf(w, "%8s %10s %10s %8s %9s %9s %7s %7s %7s %7s %7s %7s\n", "endpoint", "orders", "picked", "delivery", "asked/s", "got/s", "p50", "p90", "p99", "p99.9", "errors", "backlog")
		for _, s := range r.Rate {
			fmt.Fprintf(w, "%8s %10s %10s %8s %9.0f %9.0f %7.2f %7.2f %7.2f %7.2f %7d %7d\n", s.Name, thousands(s.Orders), thousands(s.picked()), s.Delivery, s.Rate, s.Throughput, s.P50, s.P90, s.P99, s.P999, s.Errors, s.Backlog)
		}
		fmt.Fprintln(w)
	}
	r.writeCallsText(w)
	for _, s := range r.Random {
		fmt.Fprintf(w, "closed loop, %d in flight, random orders of %s: %.0f/s p50 %.2f p99 %.2f ms, %.0f µs CPU\n",
			s.Concurrency, thousands(s.Orders), s.Throughput, s.P50, s.P99, s.CPUMicros)
	}
	if r.LargeSeed != nil {
		fmt.Fprintf(w, "seeding: %s orders in %.1f s (%.0f/s)\n", thousands(r.LargeSeed.Orders), r.LargeSeed.Seconds, r.LargeSeed.PerSecond)
	}
	if r.Delivery.Messages > 0 {
		fmt.Fprintf(w, "delivery: %s messages outbox → SMTP sink (%s) in %.2f s: %.0f messages/s\n",
			thousands(r.Delivery.Messages), r.Delivery.SMTP, r.Delivery.Seconds, r.Delivery.PerSecond)
	}
	for _, s := range r.Starts {
		fmt.Fprintf(w, "serve on %s orders: ready in median %.0f ms (max %.0f, %d starts); RSS idle %.1f MB, after %d resends %.1f MB, peak %.1f MB\n",
			thousands(s.Orders), s.MedianMS, s.MaxMS, len(s.ReadyMS), s.IdleRSSMB, s.Requests, s.AfterLoadRSSMB, s.PeakRSSMB)
	}
	fmt.Fprintf(w, "bench process peak RSS (server + load generator + seeding): %.1f MB\n\n", r.PeakRSSMB)
	for _, c := range r.Checks() {
		mark := "met   "
		if !c.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Target, c.Got)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// Markers of the section of BENCHMARKS.md that the command rewrites.
const (
	markBegin = "<!-- dcvmail bench: begin (generated by `dcvmail bench --markdown`; edits inside are lost) -->"
	markEnd   = "<!-- dcvmail bench: end -->"
)

// RewriteMarkdown replaces the marked section of path with this run's
// tables, or appends the section when the file has no markers.
func (r *Result) RewriteMarkdown(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	out, err := spliceSection(old, r.Markdown())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

func spliceSection(doc []byte, section string) ([]byte, error) {
	block := markBegin + "\n" + section + markEnd
	i := bytes.Index(doc, []byte(markBegin))
	j := bytes.Index(doc, []byte(markEnd))
	switch {
	case i < 0 && j < 0:
		var b bytes.Buffer
		b.Write(doc)
		if len(doc) > 0 && !bytes.HasSuffix(doc, []byte("\n")) {
			b.WriteByte('\n')
		}
		b.WriteString(block + "\n")
		return b.Bytes(), nil
	case i < 0 || j < i:
		return nil, fmt.Errorf("the bench markers are broken: want %q before %q", markBegin, markEnd)
	}
	var b bytes.Buffer
	b.Write(doc[:i])
	b.WriteString(block)
	b.Write(doc[j+len(markEnd):])
	return b.Bytes(), nil
}

// Markdown is the generated section of BENCHMARKS.md.
func (r *Result) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Run of %s, `dcvmail bench` %s, database **%s**.\n\n", r.Date.Format("2006-01-02 15:04 UTC"), r.Version, r.Backend)
	fmt.Fprintf(&b, "| Machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPUs (nproc) | %d |\n| CPU model | %s |\n| Memory | %.1f GiB |\n| Go | %s %s |\n| Kernel | %s |\n| Load average at start | %s |\n\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.Go, m.OS, m.Kernel, m.LoadStart)

	fmt.Fprintf(&b, "**Targets**\n\n| Target | Measured | |\n|---|---|---|\n")
	for _, c := range r.Checks() {
		mark := "met"
		if !c.Met {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Target, c.Got, mark)
	}
	fmt.Fprintf(&b, "\n**Closed loop** (%s orders; each step %v after %v of warm-up; latency in ms)\n\n", thousands(r.Options.Orders), r.Options.Step, r.Options.Warm)
	fmt.Fprintf(&b, "| In flight | Ceiling /s | p50 | p99 | p99.9 | CPU µs | ResendDCVEmail /s | p50 | p99 | p99.9 | CPU µs | CPU µs with delivery | Ratio |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range r.Ceiling {
		c, s := r.Ceiling[i], r.Resend[i]
		fmt.Fprintf(&b, "| %d | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.1f%% |\n",
			c.Concurrency, c.Throughput, c.P50, c.P99, c.P999, c.CPUMicros, s.Throughput, s.P50, s.P99, s.P999, s.CPUMicros, s.CPUWithDelivery, pct(s.Throughput, c.Throughput))
	}
	fmt.Fprintf(&b, "| **best** | **%.0f** | | | | | **%.0f** | | | | | | **%.1f%%** |\n", r.CeilingMax, r.ResendMax, 100*r.Ratio)
	r.writeCallsMarkdown(&b)
	if len(r.Rate) > 0 {
		fmt.Fprintf(&b, "\n**Constant rate** (open loop, %.0f%% of %.0f/s, the best ResendDCVEmail throughput with orders picked at random on 1,000 orders (below), %v per run, orders picked at random; latency in ms)\n\n",
			100*r.Options.RateShare, r.RateBase, r.Options.RateStep)
		fmt.Fprintf(&b, "| Endpoint | Orders in the database | Picked from | Deliveries | Asked /s | Got /s | p50 | p90 | p99 | p99.9 | max | Errors | Outbox backlog at the end |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Rate {
			backlog := ""
			if s.Delivery == deliveryRunning {
				backlog = thousands(s.Backlog)
			}
			picked := "all"
			if s.Picked > 0 {
				picked = "newest " + thousands(s.Picked)
			}
			endpoint := "ResendDCVEmail"
			if s.Name == "ceiling" {
				endpoint, picked = "ceiling", ""
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %s |\n",
				endpoint, thousands(s.Orders), picked, s.Delivery, s.Rate, s.Throughput, s.P50, s.P90, s.P99, s.P999, s.Max, s.Errors, backlog)
		}
	}
	if len(r.Random) > 0 {
		fmt.Fprintf(&b, "\n**Closed loop on each database**, orders picked at random, %d in flight, deliveries held (latency in ms)\n\n", r.Random[0].Concurrency)
		fmt.Fprintf(&b, "| Orders in the database | ResendDCVEmail /s | p50 | p99 | p99.9 | CPU µs |\n|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Random {
			fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.2f | %.0f |\n", thousands(s.Orders), s.Throughput, s.P50, s.P99, s.P999, s.CPUMicros)
		}
	}
	b.WriteString("\n**Other measurements**\n\n| What | Result |\n|---|---|\n")
	if r.LargeSeed != nil {
		fmt.Fprintf(&b, "| Seeding the large database | %s orders in %.1f s (%.0f orders/s) |\n", thousands(r.LargeSeed.Orders), r.LargeSeed.Seconds, r.LargeSeed.PerSecond)
	}
	if r.Delivery.Messages > 0 {
		fmt.Fprintf(&b, "| Outbox → SMTP sink (%s) | %s messages in %.2f s: **%.0f messages/s** |\n",
			r.Delivery.SMTP, thousands(r.Delivery.Messages), r.Delivery.Seconds, r.Delivery.PerSecond)
	}
	for _, s := range r.Starts {
		fmt.Fprintf(&b, "| `serve` on %s orders: exec to first answer | median **%.0f ms**, max %.0f ms (%d starts) |\n",
			thousands(s.Orders), s.MedianMS, s.MaxMS, len(s.ReadyMS))
		fmt.Fprintf(&b, "| `serve` on %s orders: RSS | idle **%.1f MB**; after %d resends %.1f MB; peak (VmHWM) %.1f MB |\n",
			thousands(s.Orders), s.IdleRSSMB, s.Requests, s.AfterLoadRSSMB, s.PeakRSSMB)
	}
	fmt.Fprintf(&b, "| Bench process peak RSS (server, load generator, seeding) | %.1f MB |\n", r.PeakRSSMB)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	return b.String()
}

func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * a / b
}

// thousands writes n with commas: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
