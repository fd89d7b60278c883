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
	"github.com/dcvmail/dcvmail/internal/pgcluster"
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

	// Calls is the per-call closed loop, one table per database.
	Calls []CallTable `json:"calls"`
	// Nodes: one serve node against two on the PostgreSQL of the per-call
	// table.
	Nodes *Nodes `json:"nodes,omitempty"`

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

// run is one benchmark under way: its options, what it has measured so
// far, and the servers and SMTP sink it measures with.
type run struct {
	ctx   context.Context
	o     Options
	r     *Result
	say   func(format string, args ...any)
	runID string
	sk    *sink
	small *bed
	beds  []*bed // small, and large when there is one
	prof  *cpuProfile
	pg    *pgcluster.Cluster // the throwaway PostgreSQL, once started
	next  atomic.Int64       // the round-robin order counter

	// The constant-rate steps' rate and p99s, one a round.
	rate                                                 float64
	smallP99, largeP99, recentP99, sustained, ceilingP99 []float64
}

// Run carries out the whole benchmark: (1, 2) the closed-loop sweep of the
// ceiling and ResendDCVEmail, the large database, orders picked at random,
// the constant-rate rounds, (3) the delivery of a backlog, (4) starts of
// `serve` as a child process.
func Run(ctx context.Context, o Options, progress io.Writer) (*Result, error) {
	b := &run{ctx: ctx, o: o, runID: randomHex(3),
		say: func(format string, args ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", args...) }}
	b.r = &Result{Version: version(), Date: time.Now().UTC(), Machine: readMachine(), Options: o}
	b.r.Options.DB, b.r.Options.LargeDB = redact(o.DB), redact(o.LargeDB) // the JSON file names no password
	dir, cleanup, err := benchDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	defer b.stopPostgres() // after the servers on it have stopped
	if err := b.ownDatabases(); err != nil {
		return nil, err
	}
	if b.sk, err = startSink(dir, !o.PlainSMTP); err != nil {
		return nil, fmt.Errorf("bench: SMTP sink: %w", err)
	}
	defer b.sk.close()
	if o.CPUProfile != "" {
		b.prof = &cpuProfile{path: o.CPUProfile}
		defer b.prof.stop()
	}
	defer b.stopBeds() // on an early return; stopping twice is nothing
	for _, step := range []func() error{
		func() error { return b.startSmall(dir) }, b.sweep, func() error { return b.callTable(b.small) },
		func() error { return b.postgresCalls(dir) },
		func() error { return b.startLarge(dir) },
		b.randomOrders, b.rates, b.delivery, b.stopBeds, b.starts,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	b.r.PeakRSSMB = procStatusMB(0, "VmHWM")
	return b.r, nil
}

// benchDir is --dir, or a temporary directory removed by cleanup.
func benchDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o700)
	}
	dir, err := os.MkdirTemp("", "dcvmail-bench-*")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// startSmall starts the small database's server and seeds it.
func (b *run) startSmall(dir string) error {
	o, r := b.o, b.r
	r.Delivery.SMTP = "STARTTLS"
	if o.PlainSMTP {
		r.Delivery.SMTP = "plain"
	}
	small, err := b.startBed("small", filepath.Join(dir, "small"), o.DB)
	if err != nil {
		return err
	}
	b.small, b.beds = small, []*bed{small}
	r.Backend = small.srv.App.Store.Dialect()
	if r.Backend == "sqlite" {
		r.Notes = append(r.Notes, "SQLite in WAL mode with synchronous=FULL: every answered resend is fsynced")
	}
	b.say("seeding %d accounts and %d orders", o.Accounts, o.Orders)
	if err := seed(b.ctx, small.srv.App, &small.fix, o.Accounts, o.Orders, b.runID, nil); err != nil {
		return err
	}
	return small.warmCredentials()
}

// roundRobin picks the orders of bd in turn.
func (b *run) roundRobin(bd *bed, path string) target {
	return func() hit {
		i := int(b.next.Add(1)-1) % bd.fix.orders
		return postHit(path, bd.fix.body(i))
	}
}

// profiled runs step under the CPU profile named name, when one is asked for.
func (b *run) profiled(name string, step func() Step) Step {
	if b.prof == nil {
		return step()
	}
	b.prof.start(name)
	defer b.prof.stop()
	return step()
}

// sweep is measurements 1 and 2: the closed-loop sweep, ceiling and
// resend interleaved at each concurrency.
func (b *run) sweep() error {
	o, r, small, sk := b.o, b.r, b.small, b.sk
	for _, c := range o.Concurrency {
		// The ceiling runs with an idle outbox worker.
		if err := small.drain(5 * time.Minute); err != nil {
			return err
		}
		cs := small.load.closed("ceiling", b.roundRobin(small, ceilingPath), c, o.Warm, o.Step)
		cs.Orders = small.fix.orders
		// ResendDCVEmail with its deliveries held back (the sink answers no
		// MAIL FROM meanwhile): the step measures the API, its commit and
		// its outbox write; the deliveries follow once it is over.
		sk.hold()
		small.load.closed("resend", b.roundRobin(small, resendPath), c, 0, o.Warm) // warm-up
		rs := b.profiled(fmt.Sprintf("resend-c%d", c), func() Step {
			return small.load.closed("resend", b.roundRobin(small, resendPath), c, 0, o.Step)
		})
		rs.Orders, rs.Delivery = small.fix.orders, deliveryHeld
		sk.release()
		if err := small.drain(5 * time.Minute); err != nil {
			return err
		}
		rs.addDelivery(small.load.cpu())
		r.Ceiling, r.Resend = append(r.Ceiling, cs), append(r.Resend, rs)
		b.say("concurrency %3d: ceiling %6.0f/s p99 %6.2f ms %4.0f µs CPU | resend %5.0f/s p99 %6.2f ms %4.0f µs CPU (%4.0f with delivery) | errors %d/%d",
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
	return nil
}

// startLarge starts and fills the large database while the small one
// idles, unless there is none to fill.
func (b *run) startLarge(dir string) error {
	o, r := b.o, b.r
	if o.LargeOrders <= 0 {
		return nil
	}
	largeDB := o.LargeDB
	if largeDB == "" && strings.HasPrefix(o.DB, "postgres") {
		r.Notes = append(r.Notes, "large run skipped: --db is PostgreSQL and no --large-db was given")
		return nil
	}
	large, err := b.startBed("large", filepath.Join(dir, "large"), largeDB)
	if err != nil {
		return err
	}
	b.beds = append(b.beds, large) // stopped by Run's stopBeds from here on
	b.say("seeding %d orders into the large database", o.LargeOrders)
	t0 := time.Now()
	last := t0
	err = seed(b.ctx, large.srv.App, &large.fix, o.Accounts, o.LargeOrders, b.runID, func(done int) {
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			b.say("  %d orders, %.0f/s", done, float64(done)/time.Since(t0).Seconds())
		}
	})
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	r.LargeSeed = &Seed{Orders: o.LargeOrders, Seconds: round(el, 1), PerSecond: round(float64(o.LargeOrders)/el, 0)}
	b.say("  seeded in %.1f s (%.0f orders/s)", el, r.LargeSeed.PerSecond)
	// Gigabytes just written are still being flushed by the kernel;
	// every fsync would queue behind that, on both databases. Wait
	// for it before measuring anything.
	t1 := time.Now()
	syncDisks()
	r.LargeSeed.SyncSeconds = round(time.Since(t1).Seconds(), 1)
	b.say("  flushed to disk in %.1f s", r.LargeSeed.SyncSeconds)
	return large.warmCredentials()
}

// drainAll empties every outbox: a backlog left by one database's step
// would be delivered during the next step, on the same CPUs, so every step
// starts with none.
func (b *run) drainAll() error {
	for _, bd := range b.beds {
		if err := bd.drain(5 * time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// randomOrders is a closed-loop step at the best concurrency with orders
// picked at random, on each database.
func (b *run) randomOrders() error {
	best := b.r.best()
	if best.OK == 0 {
		return nil
	}
	for _, bd := range b.beds {
		if err := b.drainAll(); err != nil {
			return err
		}
		b.sk.hold()
		s := b.profiled(fmt.Sprintf("random-%d", bd.fix.orders), func() Step {
			return bd.load.closed("resend", randomOrder(bd), best.Concurrency, b.o.Warm, b.o.Step)
		})
		s.Orders, s.Delivery = bd.fix.orders, deliveryHeld
		b.sk.release()
		b.r.Random = append(b.r.Random, s)
		b.say("random orders, concurrency %d, %d orders: %.0f/s p99 %.2f ms %4.0f µs CPU", s.Concurrency, s.Orders, s.Throughput, s.P99, s.CPUMicros)
	}
	return nil
}

// rates runs the constant-rate rounds on each database, interleaved,
// orders picked at random, deliveries held as in the sweep; then the same
// rate on the small database with the worker delivering as it goes
// (sustained). The rate is a share of the maximum of the same requests:
// orders picked at random, on the small database (the closed loop just
// run). The sweep's orders in turn share pages within a batch, so its
// maximum is higher than random picks can sustain.
func (b *run) rates() error {
	o, r := b.o, b.r
	r.RateBase = r.ResendMax
	if len(r.Random) > 0 && r.Random[0].Throughput > 0 {
		r.RateBase = r.Random[0].Throughput
	}
	b.rate = r.RateBase * o.RateShare
	if b.rate >= 1 {
		for range o.RateRounds {
			if err := b.rateCeiling(); err != nil {
				return err
			}
			for _, bd := range b.beds {
				if err := b.rateStep(bd, b.rate, true, false); err != nil {
					return err
				}
				if bd != b.small {
					if err := b.rateStep(bd, b.rate, true, true); err != nil {
						return err
					}
				}
			}
		}
		// With deliveries running each resend costs its delivery's CPU
		// too, so the sustained run asks the same share of the capacity
		// that leaves: the rate scaled by CPU per resend without and with
		// its delivery, at the best step.
		if best := r.best(); o.RateRounds > 0 && best.CPUWithDelivery > 0 {
			r.SustainedRate = round(b.rate*best.CPUMicros/best.CPUWithDelivery, 0)
			if err := b.rateStep(b.small, r.SustainedRate, false, false); err != nil {
				return err
			}
		}
	}
	r.SmallP99, r.LargeP99, r.RecentP99, r.SustainedP99 = median(b.smallP99), median(b.largeP99), median(b.recentP99), median(b.sustained)
	r.CeilingP99 = median(b.ceilingP99)
	return nil
}

// rateStep is one constant-rate step on bd. recent, on the large database,
// picks among its newest orders as many as the small database has: the
// same working set in a database a thousand times larger. Without it,
// orders come uniformly from all.
func (b *run) rateStep(bd *bed, rate float64, held, recent bool) error {
	o := b.o
	if err := b.drainAll(); err != nil {
		return err
	}
	if held {
		b.sk.hold()
	}
	pick := randomOrder(bd)
	if recent {
		n := min(o.Orders, bd.fix.orders)
		pick = func() hit { return postHit(resendPath, bd.fix.body(bd.fix.orders-1-rand.IntN(n))) }
	}
	s := bd.load.rate("resend", pick, rate, o.Warm, o.RateStep)
	s.Orders, s.Delivery = bd.fix.orders, deliveryHeld
	if recent {
		s.Picked = min(o.Orders, bd.fix.orders)
	}
	if !held {
		s.Delivery = deliveryRunning
		if n, err := bd.srv.App.Store.PendingDeliveries(b.ctx); err == nil {
			s.Backlog = n
		}
	}
	b.sk.release()
	if err := b.drainAll(); err != nil {
		return err
	}
	s.addDelivery(bd.load.cpu())
	b.r.Rate = append(b.r.Rate, s)
	b.say("rate %.0f/s on %d orders (picking from %d), delivery %s: got %.0f/s p50 %.2f p99 %.2f p99.9 %.2f ms, errors %d",
		rate, s.Orders, s.picked(), s.Delivery, s.Throughput, s.P50, s.P99, s.P999, s.Errors)
	switch {
	case !held:
		b.sustained = append(b.sustained, s.P99)
	case bd == b.small:
		b.smallP99 = append(b.smallP99, s.P99)
	case recent:
		b.recentP99 = append(b.recentP99, s.P99)
	default:
		b.largeP99 = append(b.largeP99, s.P99)
	}
	return nil
}

// rateCeiling is the ceiling at the same rate, each round, on the small
// database's listener: the tail that is not ResendDCVEmail's.
func (b *run) rateCeiling() error {
	if err := b.drainAll(); err != nil {
		return err
	}
	s := b.small.load.rate("ceiling", b.roundRobin(b.small, ceilingPath), b.rate, b.o.Warm, b.o.RateStep)
	s.Orders = b.small.fix.orders
	b.r.Rate = append(b.r.Rate, s)
	b.ceilingP99 = append(b.ceilingP99, s.P99)
	b.say("rate %.0f/s, the ceiling: got %.0f/s p50 %.2f p99 %.2f p99.9 %.2f ms, errors %d",
		b.rate, s.Throughput, s.P50, s.P99, s.P999, s.Errors)
	return nil
}

// delivery is measurement 3: the delivery of a backlog to the SMTP sink.
func (b *run) delivery() error {
	if err := b.drainAll(); err != nil {
		return err
	}
	if b.o.Messages <= 0 {
		return nil
	}
	r := b.r
	b.say("delivering %d messages from the outbox to the SMTP sink (%s)", b.o.Messages, r.Delivery.SMTP)
	d, err := b.small.deliver(b.ctx, b.sk, b.o.Messages)
	if err != nil {
		return err
	}
	d.SMTP = r.Delivery.SMTP
	r.Delivery = d
	b.say("  %.1f s, %.0f messages/s", d.Seconds, d.PerSecond)
	return nil
}

// stopBeds stops the servers, so that the starts that follow have the
// databases to themselves.
func (b *run) stopBeds() error {
	for _, bd := range b.beds {
		if err := bd.stop(); err != nil {
			return err
		}
	}
	return nil
}

// starts is measurement 4: `serve` as a child process on the databases
// just filled.
func (b *run) starts() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if b.o.Starts <= 0 {
		return nil
	}
	for _, bd := range b.beds {
		b.say("starting `serve` %d times on the %s database (%d orders)", b.o.Starts, bd.name, bd.fix.orders)
		st, err := measureStart(b.ctx, exe, serveArgs{data: bd.data, db: bd.db}, bd.load.client, b.o.Starts, bd.fix.body(0), 100, b.o.Settle)
		if err != nil {
			return err
		}
		st.Orders = bd.fix.orders
		b.r.Starts = append(b.r.Starts, st)
		b.say("  ready in median %.0f ms, max %.0f ms; idle RSS %.1f MB, after %d resends %.1f MB",
			st.MedianMS, st.MaxMS, st.IdleRSSMB, st.Requests, st.AfterLoadRSSMB)
	}
	return nil
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
		Common:   config.Common{Data: data, DB: db},
		Listen:   "127.0.0.1:0",
		SMTP:     sk.url(),
		MailFrom: "dcv@bench.dcvmail.invalid",
		// No DNS: every recipient is a constructed address, the address
		// lists are the constructed ones and CAA goes unchecked, so that
		// no call measures a resolver.
		DNSResolvers: config.List{"none"},
		// The order calls (AutoApplySSL, CollectSSL) need the plain
		// listener: the test CA's certificates name http:// URLs on it.
		HTTPListen:   "127.0.0.1:0",
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
	return func() hit { return postHit(resendPath, b.fix.body(rand.IntN(b.fix.orders))) }
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
