package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// useMessageKey gives the store the key that seals DCV messages
// (SECURITY.md, "Codes at rest"). A process that sends mail creates the key
// on first start and refuses to run without the right one; it also seals
// the clear messages of live emails left from before (an upgrade). Other
// processes (order show, mail list) use the key when they have it.
func useMessageKey(ctx context.Context, st *store.Store, o AppOptions, log *slog.Logger) error {
	if o.MessageKeyFile == "" {
		return nil
	}
	created, err := st.UseMessageKey(ctx, o.MessageKeyFile, o.SendsMail)
	if !o.SendsMail {
		return nil
	}
	if err != nil {
		return err
	}
	if created {
		log.Info("created the key that seals DCV messages in the database; back it up with the database, and give every node the same file",
			"file", o.MessageKeyFile)
	}
	now := time.Now()
	if o.Clock != nil {
		now = o.Clock.Now()
	}
	n, err := st.SealClearBodies(ctx, now)
	if n > 0 {
		log.Info("sealed the messages of live DCV emails stored in clear", "count", n)
	}
	return err
}
