// Package cli is dcvmail's command line: it parses commands and flags
// (through package config) and calls the server and the domain. Nothing
// here decides anything about DCV.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dcvmail/dcvmail/internal/bench"
	"github.com/dcvmail/dcvmail/internal/clientcmd"
	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/server"
)

// Env is what a command may use of its surroundings, so that tests can run
// commands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OS is the real environment.
func OS() Env { return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

const usage = `dcvmail: email Domain Control Validation behind a Sectigo-compatible API

Usage:
  dcvmail serve   [--data DIR] [--db URL] [--listen ADDR] [--http-listen ADDR] [--admin-listen ADDR]
                  [--tls-cert FILE --tls-key FILE] [--smtp URL] [--mail-from ADDR] [--public-url URL]
                  [--dns-resolver ADDR]... [--trusted-proxy CIDR]... [--demo]
                  (dcvmail serve -h lists every flag: SMTP, DKIM, DNS, limits, policy)
  dcvmail migrate [--data DIR] [--db URL]
  dcvmail account add  --login NAME [--password-stdin] [--read-only]
  dcvmail account set  --login NAME [--password-stdin] [--read-only=BOOL] [--disabled=BOOL]
  dcvmail order add    --account NAME --domain FQDN [--domain FQDN]... [--base-order N] [--dcv-email ADDR]
  dcvmail order show   N [--json]
  dcvmail template add --id N --file FILE [--account NAME]...
  dcvmail mail list    [--json] [--order N]
  dcvmail client resend|addresses|status|update --url URL --login NAME [flags]
                       (password from DCVMAIL_CLIENT_PASSWORD or --password-stdin)
  dcvmail bench        [--db URL] [--orders N] [--large-orders N] [--markdown FILE] (see BENCHMARKS.md)
  dcvmail version

Every flag also reads DCVMAIL_<FLAG> (e.g. --data from DCVMAIL_DATA); the flag wins.
Run "dcvmail COMMAND -h" for a command's flags.
`

// Run runs the command line args (without the program name) and returns the
// exit status.
func Run(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, env)
	case "migrate":
		err = migrate(rest, env)
	case "account", "order", "template", "mail":
		if len(rest) == 0 {
			err = usageError{fmt.Sprintf("%s needs a subcommand", cmd)}
			break
		}
		err = admin(cmd+" "+rest[0], rest[1:], env)
	case "client":
		return clientcmd.Run(context.Background(), rest, env.Stdin, env.Stdout, env.Stderr, env.Getenv)
	case "bench":
		err = bench.Main(rest, env.Stdout, env.Stderr, env.Getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(env.Stdout, "dcvmail", Version())
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "dcvmail: %s (run dcvmail help)\n", ue.msg)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "dcvmail: %s\n", oneLine(err.Error()))
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Version is the module version the binary was built from, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newFlagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("dcvmail "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string, env Env) error {
	if err := config.Parse(fs, args, env.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
}

func serve(args []string, env Env) error {
	var cfg config.Serve
	fs := newFlagSet("serve", env)
	config.BindServe(fs, &cfg)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	cfg.Guard.AdminToken = env.Getenv("DCVMAIL_ADMIN_TOKEN")
	log, err := newLogger(cfg.LogFormat, env.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, server.WithLogger(log))
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return <-done
}

func migrate(args []string, env Env) error {
	var c config.Common
	fs := newFlagSet("migrate", env)
	config.BindCommon(fs, &c)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	app, err := openApp(context.Background(), c, nil, env)
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintln(env.Stdout, "schema up to date")
	return nil
}

// openApp opens the database of --data/--db for an admin command, which may
// run while `serve` runs on the same database.
//
// DNS contacts are looked up only for an --dcv-email that is not a
// constructed address, and only at the resolvers given with --dns-resolver.
func openApp(ctx context.Context, c config.Common, resolvers []string, env Env) (*server.App, error) {
	if !strings.HasPrefix(c.DatabaseURL(), "postgres") {
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return nil, err
		}
	}
	return server.Open(ctx, server.AppOptions{
		DatabaseURL: c.DatabaseURL(),
		// DNSSEC is required of contact lookups from 2026-03-15 (dcv-rules.md).
		Finder: contacts.NewFinder(contacts.Config{Resolvers: slices.DeleteFunc(resolvers, func(r string) bool { return r == "none" }),
			RequireAD: dcv.InForce(dcv.Timeline, "dnssec-contacts", time.Now())}),
		Log: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}
