package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/server"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// Result is everything one run measured; it is also the JSON file.
type Result struct {
	Version string    `json:"version"`
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Backend string    `json:"backend"` // sqlite or postgres
	Options Options   `json:"options"`

	// The closed-loop sweep, ceiling and ResendDCVEmail interleaved at each
	// concurrency.
	Ceiling []Step `json:"ceiling"`
	Resend  []Step `json:"resend"`
	// The best of each sweep and their ratio.
	CeilingMax float64 `json:"ceilingMax"`
	ResendMax  float64 `json:"resendMax"`
	Ratio      float64 `json:"ratio"`

	// Constant-rate runs at RateShare of RateBase on the small and the
	// large database, interleaved. RateBase is the best closed-loop
	// ResendDCVEmail throughput with orders picked at random on the small
	// database, as the constant-rate runs pick them.
	RateBase float64 `json:"rateBase"`
	Rate     []Step  `json:"rate"`
	SmallP99 float64 `json:"smallP99ms"` // the median p99 of the small database's runs
	LargeP99 float64 `json:"largeP99ms"` // orders picked from all of the large database
	// RecentP99: from the newest orders of the large database, as many as
	// the small one has.
	RecentP99 float64 `json:"recentP99ms"`
	// CeilingP99 is the median p99 of the ceiling at the same rate, in
	// the same rounds: what the machine, TLS, HTTP and the load generator
	// alone put into the tail.
	CeilingP99 float64 `json:"ceilingP99ms"`
	// SustainedP99 is the p99 with deliveries running, at SustainedRate.
	SustainedRate float64 `json:"sustainedRate"`
	SustainedP99  float64 `json:"sustainedP99ms"`
	// Random is a closed-loop step at the best concurrency with orders
	// picked at random, on each database: the large one's cost of poor
	// locality, at full load.
	Random    []Step `json:"random"`
	LargeSeed *Seed  `json:"largeSeed,omitempty"`

	Delivery Delivery `json:"delivery"`
	Starts   []Start  `json:"starts"`

	// PeakRSSMB is this process's VmHWM: server, load generator and
	// seeding together.
	PeakRSSMB float64  `json:"peakRssMB"`
	Notes     []string `json:"notes,omitempty"`
}

// Seed is how long filling a database took.
type Seed struct {
	Orders    int     `json:"orders"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// SyncSeconds is how long the kernel then took to write it all out.
	SyncSeconds float64 `json:"syncSeconds"`
}

// Delivery is the outbox-to-SMTP step.
type Delivery struct {
	Messages int     `json:"messages"`
	SMTP     string  `json:"smtp"` // "STARTTLS" or "plain"
	Seconds  float64 `json:"seconds"`
	// PerSecond counts messages accepted by the sink, from the commit of
	// the backlog to the last one, with every attempt recorded.
	PerSecond float64 `json:"perSecond"`
}

// bed is one server under test and its data.
type bed struct {
	name string
	srv  *server.Server
	data string
	db   string // "" for the SQLite file in data
	fix  fixture
	done chan error
	load *loader
}

// Run carries out the whole benchmark.
func Run(ctx context.Context, o Options, progress io.Writer) (*Result, error) {
	say := func(format string, args ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", args...) }
	r := &Result{Version: version(), Date: time.Now().UTC(), Machine: readMachine(), Options: o}
	r.Options.DB, r.Options.LargeDB = redact(o.DB), redact(o.LargeDB) // the JSON file names no password

	dir := o.Dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "dcvmail-bench-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	runID := randomHex(3)

	sk, err := startSink(dir, !o.PlainSMTP)
	if err != nil {
		return nil, fmt.Errorf("bench: SMTP sink: %w", err)
	}
	defer sk.close()
	r.Delivery.SMTP = "STARTTLS"
	if o.PlainSMTP {
		r.Delivery.SMTP = "plain"
	}

	small, err := startBed(ctx, "small", filepath.Join(dir, "small"), o.DB, sk)
	if err != nil {
		return nil, err
	}
	defer small.stop()
	r.Backend = small.srv.App.Store.Dialect()
	if r.Backend == "sqlite" {
		r.Notes = append(r.Notes, "SQLite in WAL mode with synchronous=FULL: every answered resend is fsynced")
	}

	say("seeding %d accounts and %d orders", o.Accounts, o.Orders)
	if err := seed(ctx, small.srv.App, &small.fix, o.Accounts, o.Orders, runID, nil); err != nil {
		return nil, err
	}
	if err := small.warmCredentials(); err != nil {
		return nil, err
	}

	// 1 and 2: the closed-loop sweep, ceiling and resend interleaved.
	var prof *cpuProfile
	if o.CPUProfile != "" {
		prof = &cpuProfile{path: o.CPUProfile}
		defer prof.stop()
	}
	var next atomic.Int64
	roundRobin := func(b *bed, path string) target {
		return func() (string, string) {
			i := int(next.Add(1)-1) % b.fix.orders
			return path, b.fix.body(i)
		}
	}
	for _, c := range o.Concurrency {
		// The ceiling runs with an idle outbox worker.
		if err := small.drain(5 * time.Minute); err != nil {
			return nil, err
		}
		cs := small.load.closed("ceiling", roundRobin(small, ceilingPath), c, o.Warm, o.Step)
		cs.Orders = small.fix.orders
		// ResendDCVEmail with its deliveries held back (the sink answers no
		// MAIL FROM meanwhile): the step measures the API, its commit and
		// its outbox write; the deliveries follow once it is over.
		sk.hold()
		small.load.closed("resend", roundRobin(small, resendPath), c, 0, o.Warm) // warm-up
		if prof != nil {
			prof.start(fmt.Sprintf("resend-c%d", c))
		}
		rs := small.load.closed("resend", roundRobin(small, resendPath), c, 0, o.Step)
		rs.Orders, rs.Delivery = small.fix.orders, deliveryHeld
		if prof != nil {
			prof.stop()
		}
		sk.release()
		if err := small.drain(5 * time.Minute); err != nil {
			return nil, err
		}
		rs.addDelivery()
		r.Ceiling, r.Resend = append(r.Ceiling, cs), append(r.Resend, rs)
		say("concurrency %3d: ceiling %6.0f/s p99 %6.2f ms %4.0f µs CPU | resend %5.0f/s p99 %6.2f ms %4.0f µs CPU (%4.0f with delivery) | errors %d/%d",
			c, cs.Throughput, cs.P99, cs.CPUMicros, rs.Throughput, rs.P99, rs.CPUMicros, rs.CPUWithDelivery, cs.Errors, rs.Errors)
		if rs.Errors > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("resend at concurrency %d: %d errors, first: %s", c, rs.Errors, rs.FirstError))
		}
	}
	for i := range r.Ceiling {
		r.CeilingMax = max(r.CeilingMax, r.Ceiling[i].Throughput)
		r.ResendMax = max(r.ResendMax, r.Resend[i].Throughput)
	}
	if r.CeilingMax > 0 {
		r.Ratio = round(r.ResendMax/r.CeilingMax, 3)
	}

	// The large database, filled while the small one idles.
	beds := []*bed{small}
	if o.LargeOrders > 0 {
		largeDB := o.LargeDB
		if largeDB == "" && strings.HasPrefix(o.DB, "postgres") {
			r.Notes = append(r.Notes, "large run skipped: --db is PostgreSQL and no --large-db was given")
		} else {
			large, err := startBed(ctx, "large", filepath.Join(dir, "large"), largeDB, sk)
			if err != nil {
				return nil, err
			}
			defer large.stop()
			say("seeding %d orders into the large database", o.LargeOrders)
			t0 := time.Now()
			last := t0
			err = seed(ctx, large.srv.App, &large.fix, o.Accounts, o.LargeOrders, runID, func(done int) {
				if time.Since(last) > 5*time.Second {
					last = time.Now()
					say("  %d orders, %.0f/s", done, float64(done)/time.Since(t0).Seconds())
				}
			})
			if err != nil {
				return nil, err
			}
			el := time.Since(t0).Seconds()
			r.LargeSeed = &Seed{Orders: o.LargeOrders, Seconds: round(el, 1), PerSecond: round(float64(o.LargeOrders)/el, 0)}
			say("  seeded in %.1f s (%.0f orders/s)", el, r.LargeSeed.PerSecond)
			// Gigabytes just written are still being flushed by the kernel;
			// every fsync would queue behind that, on both databases. Wait
			// for it before measuring anything.
			t1 := time.Now()
			syncDisks()
			r.LargeSeed.SyncSeconds = round(time.Since(t1).Seconds(), 1)
			say("  flushed to disk in %.1f s", r.LargeSeed.SyncSeconds)
			if err := large.warmCredentials(); err != nil {
				return nil, err
			}
			beds = append(beds, large)
		}
	}

	// Every step starts with every outbox empty: a backlog left by one
	// database's step would be delivered during the next step, on the
	// same CPUs.
	drainAll := func() error {
		for _, b := range beds {
			if err := b.drain(5 * time.Minute); err != nil {
				return err
			}
		}
		return nil
	}
	if best := r.best(); best.OK > 0 {
		for _, b := range beds {
			if err := drainAll(); err != nil {
				return nil, err
			}
			sk.hold()
			if prof != nil {
				prof.start(fmt.Sprintf("random-%d", b.fix.orders))
			}
			s := b.load.closed("resend", randomOrder(b), best.Concurrency, o.Warm, o.Step)
			s.Orders, s.Delivery = b.fix.orders, deliveryHeld
			if prof != nil {
				prof.stop()
			}
			sk.release()
			r.Random = append(r.Random, s)
			say("random orders, concurrency %d, %d orders: %.0f/s p99 %.2f ms %4.0f µs CPU", s.Concurrency, s.Orders, s.Throughput, s.P99, s.CPUMicros)
		}
	}

	// Constant rate on each database, interleaved, orders picked at random,
	// deliveries held as in the sweep; then the same rate on the small
	// database with the worker delivering as it goes (sustained).
	// The rate is a share of the maximum of the same requests: orders
	// picked at random, on the small database (the closed loop just run).
	// The sweep's orders in turn share pages within a batch, so its
	// maximum is higher than random picks can sustain.
	r.RateBase = r.ResendMax
	if len(r.Random) > 0 && r.Random[0].Throughput > 0 {
		r.RateBase = r.Random[0].Throughput
	}
	rate := r.RateBase * o.RateShare
	var smallP99, largeP99, recentP99, sustained, ceilingP99 []float64
	// recent, on the large database, picks among its newest orders as many
	// as the small database has: the same working set in a database a
	// thousand times larger. Without it, orders come uniformly from all.
	runRate := func(b *bed, rate float64, held, recent bool) error {
		if err := drainAll(); err != nil {
			return err
		}
		if held {
			sk.hold()
		}
		pick := randomOrder(b)
		if recent {
			n := min(o.Orders, b.fix.orders)
			pick = func() (string, string) { return resendPath, b.fix.body(b.fix.orders - 1 - rand.IntN(n)) }
		}
		s := b.load.rate("resend", pick, rate, o.Warm, o.RateStep)
		s.Orders, s.Delivery = b.fix.orders, deliveryHeld
		if recent {
			s.Picked = min(o.Orders, b.fix.orders)
		}
		if !held {
			s.Delivery = deliveryRunning
			if n, err := b.srv.App.Store.PendingDeliveries(ctx); err == nil {
				s.Backlog = n
			}
		}
		sk.release()
		if err := drainAll(); err != nil {
			return err
		}
		s.addDelivery()
		r.Rate = append(r.Rate, s)
		say("rate %.0f/s on %d orders (picking from %d), delivery %s: got %.0f/s p50 %.2f p99 %.2f p99.9 %.2f ms, errors %d",
			rate, s.Orders, s.picked(), s.Delivery, s.Throughput, s.P50, s.P99, s.P999, s.Errors)
		switch {
		case !held:
			sustained = append(sustained, s.P99)
		case b == small:
			smallP99 = append(smallP99, s.P99)
		case recent:
			recentP99 = append(recentP99, s.P99)
		default:
			largeP99 = append(largeP99, s.P99)
		}
		return nil
	}

	// The ceiling at the same rate, each round, on the small database's
	// listener: the tail that is not ResendDCVEmail's.
	runCeiling := func() error {
		if err := drainAll(); err != nil {
			return err
		}
		s := small.load.rate("ceiling", roundRobin(small, ceilingPath), rate, o.Warm, o.RateStep)
		s.Orders = small.fix.orders
		r.Rate = append(r.Rate, s)
		ceilingP99 = append(ceilingP99, s.P99)
		say("rate %.0f/s, the ceiling: got %.0f/s p50 %.2f p99 %.2f p99.9 %.2f ms, errors %d",
			rate, s.Throughput, s.P50, s.P99, s.P999, s.Errors)
		return nil
	}

	if rate >= 1 {
		for range o.RateRounds {
			if err := runCeiling(); err != nil {
				return nil, err
			}
			for _, b := range beds {
				if err := runRate(b, rate, true, false); err != nil {
					return nil, err
				}
				if b != small {
					if err := runRate(b, rate, true, true); err != nil {
						return nil, err
					}
				}
			}
		}
		// With deliveries running each resend costs its delivery's CPU
		// too, so the sustained run asks the same share of the capacity
		// that leaves: the rate scaled by CPU per resend without and with
		// its delivery, at the best step.
		if best := r.best(); o.RateRounds > 0 && best.CPUWithDelivery > 0 {
			r.SustainedRate = round(rate*best.CPUMicros/best.CPUWithDelivery, 0)
			if err := runRate(small, r.SustainedRate, false, false); err != nil {
				return nil, err
			}
		}
	}

	r.SmallP99, r.LargeP99, r.RecentP99, r.SustainedP99 = median(smallP99), median(largeP99), median(recentP99), median(sustained)
	r.CeilingP99 = median(ceilingP99)

	// 3: delivery of a backlog to the SMTP sink.
	if err := drainAll(); err != nil {
		return nil, err
	}
	if o.Messages > 0 {
		say("delivering %d messages from the outbox to the SMTP sink (%s)", o.Messages, r.Delivery.SMTP)
		d, err := small.deliver(ctx, sk, o.Messages)
		if err != nil {
			return nil, err
		}
		d.SMTP = r.Delivery.SMTP
		r.Delivery = d
		say("  %.1f s, %.0f messages/s", d.Seconds, d.PerSecond)
	}
	for _, b := range beds {
		if err := b.stop(); err != nil {
			return nil, err
		}
	}

	// 4: `serve` as a child process on the databases just filled.
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if o.Starts > 0 {
		for _, b := range beds {
			say("starting `serve` %d times on the %s database (%d orders)", o.Starts, b.name, b.fix.orders)
			st, err := measureStart(ctx, exe, serveArgs{data: b.data, db: b.db}, b.load.client, o.Starts, b.fix.body(0), 100, o.Settle)
			if err != nil {
				return nil, err
			}
			st.Orders = b.fix.orders
			r.Starts = append(r.Starts, st)
			say("  ready in median %.0f ms, max %.0f ms; idle RSS %.1f MB, after %d resends %.1f MB",
				st.MedianMS, st.MaxMS, st.IdleRSSMB, st.Requests, st.AfterLoadRSSMB)
		}
	}
	r.PeakRSSMB = procStatusMB(0, "VmHWM")
	return r, nil
}

// startBed starts a server on data (and db, or SQLite in data) with the
// ceiling endpoint mounted, delivering to the sink.
func startBed(ctx context.Context, name, data, db string, sk *sink) (*bed, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(data, "serve.log"))
	if err != nil {
		return nil, err
	}
	cfg := config.Serve{
		Common:       config.Common{Data: data, DB: db},
		Listen:       "127.0.0.1:0",
		SMTP:         sk.url(),
		MailFrom:     "dcv@bench.dcvmail.invalid",
		DNSResolvers: config.List{"127.0.0.1:9"}, // never asked: every recipient is a constructed address
		DNSTimeout:   time.Second,
		LogFormat:    "json",
		CodeValidity: dcv.DefaultPolicy.CodeValidity,
		// The per-order limit stays on, with room for every resend the
		// run makes, so that it checks and writes what it always does.
		ResendBurst:    1_000_000,
		ResendInterval: time.Millisecond,
	}
	// No per-account request limit: the bench's few accounts make thousands
	// of requests a second by design.
	cfg.Limits.RequestRate = -1
	cfg.Mail.SMTPCA = sk.caFile
	// Sends held by the sink wait for it rather than time out and retry.
	cfg.Mail.SMTPTimeout = 10 * time.Minute
	cfg.Mail.Lease = 30 * time.Minute
	cfg.Mail.SMTPConnections = 0 // the default
	log := slog.New(slog.NewJSONHandler(logf, nil))
	srv, err := server.New(ctx, cfg, server.WithLogger(log), server.WithRoute("POST "+ceilingPath, http.HandlerFunc(ceiling)))
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start %s server: %w", name, err)
	}
	b := &bed{name: name, srv: srv, data: data, db: db, done: make(chan error, 1)}
	go func() {
		b.done <- srv.Serve()
		logf.Close()
	}()
	pem, err := os.ReadFile(filepath.Join(data, "tls-cert.pem"))
	if err != nil {
		b.stop()
		return nil, err
	}
	hc, err := client(pem)
	if err != nil {
		b.stop()
		return nil, err
	}
	b.load = &loader{base: srv.URL(), client: hc}
	return b, nil
}

// ceiling is the trivial endpoint: it reads the form and answers as a
// successful ResendDCVEmail does, with nothing in between.
func ceiling(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h := w.Header()
	h.Set("Content-Type", wire.FormatForm.ContentType())
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(wire.Success)
}

// stop shuts the server down (once).
func (b *bed) stop() error {
	if b.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	if e := <-b.done; e != nil && err == nil {
		err = e
	}
	b.srv = nil
	if b.load != nil {
		b.load.client.CloseIdleConnections()
	}
	return err
}

// warmCredentials makes one resend per account, so that each account's
// argon2id verification is done before anything is measured (a server
// that has run for a while serves from the credential cache).
func (b *bed) warmCredentials() error {
	for a := range b.fix.logins {
		if err := post(b.load.client, b.load.base+resendPath, b.fix.body(a)); err != nil {
			return fmt.Errorf("bench: first resend on the %s server: %w", b.name, err)
		}
	}
	return nil
}

// drain waits until the outbox has nothing pending.
func (b *bed) drain(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := b.srv.App.Store.PendingDeliveries(context.Background())
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the %s outbox still has %d pending deliveries after %v", b.name, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver queues n deliveries at once and times the worker until the sink
// has them all and the outbox has recorded them.
func (b *bed) deliver(ctx context.Context, sk *sink, n int) (Delivery, error) {
	before := sk.received.Load()
	if err := seedBacklog(ctx, b.srv.App.Store, &b.fix, n, b.srv.App.DCV.Now()); err != nil {
		return Delivery{}, err
	}
	t0 := time.Now()
	deadline := t0.Add(10 * time.Minute)
	for sk.received.Load()-before < int64(n) {
		if time.Now().After(deadline) {
			return Delivery{}, fmt.Errorf("bench: the sink got %d of %d messages in 10 minutes", sk.received.Load()-before, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := b.drain(time.Minute); err != nil {
		return Delivery{}, err
	}
	el := time.Since(t0).Seconds()
	if got := sk.received.Load() - before; got != int64(n) {
		return Delivery{}, fmt.Errorf("bench: the sink got %d messages for %d deliveries", got, n)
	}
	return Delivery{Messages: n, Seconds: round(el, 2), PerSecond: round(float64(n)/el, 0)}, nil
}

// cpuProfile writes a CPU profile of each profiled step to PATH-NAME
// (pprof takes several files and merges them).
type cpuProfile struct {
	path string
	f    *os.File
}

func (p *cpuProfile) start(name string) {
	f, err := os.Create(p.path + "-" + name)
	if err != nil {
		return
	}
	if pprof.StartCPUProfile(f) != nil {
		f.Close()
		return
	}
	p.f = f
}

func (p *cpuProfile) stop() {
	if p.f != nil {
		pprof.StopCPUProfile()
		p.f.Close()
		p.f = nil
	}
}

// median of a few runs' values: one run disturbed by the machine's other
// work does not decide the comparison. 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// randomOrder picks the bed's orders at random (math/rand/v2's top-level
// functions are safe for concurrent use).
func randomOrder(b *bed) target {
	return func() (string, string) { return resendPath, b.fix.body(rand.IntN(b.fix.orders)) }
}

// best is the closed-loop resend step with the highest throughput.
func (r *Result) best() Step {
	var b Step
	for _, s := range r.Resend {
		if s.Throughput > b.Throughput {
			b = s
		}
	}
	return b
}

// redact hides the password of a database URL.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL
	}
	return u.Redacted()
}
