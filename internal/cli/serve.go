package cli

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/server"
)

var serveCmd = &command{
	name: "serve",
	synopsis: `[--data DIR] [--db URL] [--listen ADDR] [--http-listen ADDR] [--admin-listen ADDR]
                     [--tls-cert FILE --tls-key FILE] [--smtp URL] [--mail-from ADDR] [--public-url URL]
                     [--dns-resolver ADDR]... [--trusted-proxy CIDR]... [--demo]`,
	summary: "run the API, the confirmation page and the outbox worker",
	about: `Without --smtp, outgoing mail is captured in the built-in mailbox
(dcvmail mail list). Several serve processes may share one PostgreSQL
database (--db postgres://...). SIGINT or SIGTERM stops it after the
requests in flight.`,
	examples: []string{
		"dcvmail serve --demo",
		"dcvmail serve --data /var/lib/dcvmail --listen 0.0.0.0:8443 --public-url https://dcv.example.com",
		"dcvmail serve --db postgres://dcv:secret@db.internal/dcvmail --smtp smtp://user:pass@mail.example.com:587",
		"DCVMAIL_LISTEN=127.0.0.1:9443 dcvmail serve --admin-listen 127.0.0.1:9444",
	},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var cfg config.Serve
		config.BindServe(fs, &cfg)
		return func(context.Context) error {
			if err := config.CheckServe(cfg, k.src); err != nil {
				return usageError{err.Error()}
			}
			return serve(cfg, k.env)
		}
	},
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs the server until SIGINT or SIGTERM.
func serve(cfg config.Serve, env Env) error {
	cfg.Guard.AdminToken = env.Getenv("DCVMAIL_ADMIN_TOKEN")
	log := newLogger(cfg.LogFormat, env.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, server.WithLogger(log))
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	defer reloadOnHangup(srv)()
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
