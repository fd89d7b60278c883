// Package bench is `dcvmail bench`: it starts a real dcvmail server in this
// process (HTTPS on loopback, the embedded SQLite store or a PostgreSQL
// database, the outbox worker delivering over SMTP to an in-process sink),
// seeds accounts and orders straight through the store, and measures, in
// one run so that ratios are fair:
//
//  1. the ceiling: a trivial endpoint on the same listener, same client;
//  2. ResendDCVEmail at increasing concurrency, then at a constant rate on a
//     small and on a large database;
//  3. delivery of a backlog from the outbox to the SMTP sink;
//  4. start-to-ready and idle memory of `dcvmail serve` started as a child
//     process of this same binary on the databases just filled.
//
// It prints the results, writes them as JSON, and can rewrite the marked
// section of BENCHMARKS.md. It is a measuring tool: nothing here is used by
// `serve`, and its ceiling endpoint exists only in the server it starts.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
)

const (
	resendPath  = "/products/!ResendDCVEmail"
	ceilingPath = "/bench/ceiling"
)

// Options are the flags of `dcvmail bench`.
type Options struct {
	DB          string // database of the small run; "" is SQLite in the work directory, "postgres" a throwaway PostgreSQL
	LargeDB     string // database of the large run; "" is SQLite beside it (required for postgres)
	Dir         string // work directory; "" makes a temporary one, removed afterwards
	Accounts    int
	Orders      int // orders in the small database
	LargeOrders int // orders in the large database; 0 skips the large run
	Concurrency []int
	// CallConcurrency: the concurrencies of the per-call table; none
	// skips it.
	CallConcurrency []int
	Codes           int // live codes for the right-code POSTs of the per-call table
	// Overload: the per-call table's overload step, GetDCVEmailAddressList
	// in an open loop at this multiple of its best closed-loop throughput
	// in the table; 0 skips it.
	Overload     float64
	Issued       int           // issued orders for each AutoRevokeSSL and AutoRefund step of the per-call table
	Postgres     string        // the per-call table on a throwaway PostgreSQL too: auto, on, off
	Warm         time.Duration // warm-up before each closed-loop step, not counted
	Step         time.Duration // each closed-loop step
	RateStep     time.Duration // each constant-rate run
	RateRounds   int           // constant-rate runs per database, interleaved
	RateShare    float64       // the constant rate as a share of the best closed-loop resend throughput on random orders
	Messages     int           // the outbox backlog of the delivery step
	PlainSMTP    bool          // the sink without STARTTLS
	Starts       int           // child starts per database
	Settle       time.Duration // pause before reading a child's idle memory
	Out          string        // JSON result file
	Markdown     string        // file whose marked section is rewritten
	Quiet        bool          // no progress lines
	CPUProfile   string        // pprof CPU profile of the whole run
	BlockProfile string        // pprof profile of where goroutines waited
}

func (o *Options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.DB, "db", "", "database URL of the run (default: a SQLite file in the work directory); postgres://... must be a database the bench may fill; \"postgres\" is a database on a throwaway PostgreSQL cluster the bench starts (initdb, postgres of this machine; directory in DCVMAIL_PG_BIN, else PostgreSQL 15's Debian location, pg_config, PATH), the large run's too")
	fs.StringVar(&o.LargeDB, "large-db", "", "database URL of the large run (default: a second SQLite file, or with --db postgres a second database on its cluster; with --db postgres://... give a second database or the large run is skipped)")
	fs.StringVar(&o.Dir, "dir", "", "work directory (default: a temporary one, removed afterwards)")
	fs.IntVar(&o.Accounts, "accounts", 10, "accounts; the orders are spread over them")
	fs.IntVar(&o.Orders, "orders", 1000, "orders in the database of the main run")
	fs.IntVar(&o.LargeOrders, "large-orders", 1_000_000, "orders in the database of the large run (0: skip it)")
	o.Concurrency = []int{1, 4, 16, 64, 128, 256}
	fs.Var((*intList)(&o.Concurrency), "concurrency", "requests in flight of the closed-loop steps, comma-separated")
	o.CallConcurrency = []int{4, 32}
	fs.Var((*intList)(&o.CallConcurrency), "calls-concurrency", "requests in flight of the per-call table's steps (every API call and the confirmation page against the ceiling), comma-separated; \"none\" skips the table")
	fs.IntVar(&o.Codes, "codes", 30_000, "orders seeded with live codes for the confirmation page's right-code POSTs (each POST uses one; a step that runs out ends early, with a note)")
	fs.Float64Var(&o.Overload, "overload", 0, "after the per-call table, GetDCVEmailAddressList in an open loop at this multiple of its best throughput in the table, up to 4,096 requests in flight, counting the calls answered and those refused with -14 while writes are backlogged (--write-backlog-limit; 0 skips the step)")
	fs.IntVar(&o.Issued, "issued", 3_000, "orders issued for each AutoRevokeSSL and AutoRefund step of the per-call table, before the step (each call uses one; a step that runs out ends early, with a note)")
	fs.StringVar(&o.Postgres, "postgres", postgresAuto, "when the run's database is SQLite, the per-call table on PostgreSQL too, on a throwaway cluster the bench starts and removes (durable: every commit flushed): auto (when initdb and postgres are found, as for --db postgres), on (fail without them), off")
	fs.DurationVar(&o.Warm, "warm", 500*time.Millisecond, "warm-up before each closed-loop step (not counted)")
	fs.DurationVar(&o.Step, "step", 3*time.Second, "length of each closed-loop step")
	fs.DurationVar(&o.RateStep, "rate-step", 10*time.Second, "length of each constant-rate run")
	fs.IntVar(&o.RateRounds, "rate-rounds", 5, "constant-rate runs on each database, interleaved, and of GetDCVEmailAddressList after each per-call table; the p99s compared are their medians")
	fs.Float64Var(&o.RateShare, "rate-share", 0.5, "the constant rate, as a share of the best closed-loop throughput of the same requests: ResendDCVEmail with orders picked at random, and GetDCVEmailAddressList in the per-call table")
	fs.IntVar(&o.Messages, "messages", 20_000, "messages in the outbox backlog of the delivery step")
	fs.BoolVar(&o.PlainSMTP, "plain-smtp", false, "deliver to the sink without STARTTLS")
	fs.IntVar(&o.Starts, "starts", 5, "starts of a serve child process on each database, for start-to-ready")
	fs.DurationVar(&o.Settle, "settle", 2*time.Second, "pause before the idle memory of a serve child process is read")
	fs.StringVar(&o.Out, "out", "dcvmail-bench.json", "JSON result file (\"\" for none)")
	fs.StringVar(&o.Markdown, "markdown", "", "rewrite the section between the bench markers of this file (BENCHMARKS.md)")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write pprof CPU profiles of the closed-loop ResendDCVEmail steps (server, worker and load generator) to FILE-resend-cN, and of the closed-loop steps on random orders of each database to FILE-random-N (N orders), and of each step of the per-call tables to FILE-call-DATABASE-CALL-cN")
	fs.StringVar(&o.BlockProfile, "blockprofile", "", "write a pprof profile of where goroutines waited (channels, locks, select) to this file")
}

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	if v == "none" {
		*l = nil
		return nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q: want positive integers separated by commas", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// Main is the `dcvmail bench` command.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o Options
	fs := flag.NewFlagSet("dcvmail bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.bind(fs)
	rest, _, err := config.ParseArgs(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: dcvmail bench [--db URL|postgres] [--postgres auto|on|off] [--orders N] [--large-orders N] [--markdown FILE]\n\nMeasure throughput and latency on this machine (see BENCHMARKS.md): the ceiling, every API call and the\nconfirmation page, on SQLite and, when PostgreSQL's server programs are here, on a throwaway PostgreSQL.\n\nFlags (each also read from the environment variable shown, which the flag overrides):")
		config.PrintFlags(stdout, fs, true)
		fmt.Fprintln(stdout, "\nExit status: 0 success, 1 failure (one line on stderr), 2 usage error.")
		return err
	} else if err != nil {
		return fmt.Errorf("%w: %v", config.ErrUsage, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", config.ErrUsage, rest[0])
	}
	switch o.Postgres {
	case postgresAuto, postgresOn, postgresOff:
	default:
		return fmt.Errorf("%w: --postgres %q: want auto, on or off", config.ErrUsage, o.Postgres)
	}
	progress := stderr
	if o.Quiet {
		progress = io.Discard
	}
	if o.BlockProfile != "" {
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
		defer func() {
			if f, err := os.Create(o.BlockProfile); err == nil {
				pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	r, err := Run(context.Background(), o, progress)
	if err != nil {
		return err
	}
	r.WriteText(stdout)
	if o.Out != "" {
		if err := r.WriteJSON(o.Out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nresults written to %s\n", o.Out)
	}
	if o.Markdown != "" {
		if err := r.RewriteMarkdown(o.Markdown); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results section of %s rewritten\n", o.Markdown)
	}
	return nil
}
