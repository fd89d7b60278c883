package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/dcvmail/dcvmail/internal/server"
)

// reloadOnHangup makes SIGHUP reload the TLS certificate and key of srv
// (docs/operations.md): new connections get the new certificate, open
// ones are kept. A failed reload is logged and keeps the old certificate.
// It returns the function that stops listening for the signal.
func reloadOnHangup(srv *server.Server) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				srv.ReloadTLS() // logs its outcome
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
