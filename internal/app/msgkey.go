package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// useMessageKey gives the store the key that seals DCV messages
// (SECURITY.md, "Codes at rest"). A process that sends mail creates the key
// on first start and refuses to run without the right one; it also seals
// the clear messages of live emails left from before (an upgrade). Other
// processes (order show, mail list) use the key when they have it.
func useMessageKey(ctx context.Context, st *store.Store, o Config, log *slog.Logger) error {
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
		log.Info("created the key that seals DCV messages in the database; back it up, apart from the database copies, and give every node the same file",
			"file", o.MessageKeyFile)
	}
	// Once per database: after it every process that writes messages has
	// the key, and the search reads every message (gigabytes, on a large
	// database) at each start.
	if done, err := st.Setting(ctx, settingClearSealed); err != nil || done != "" {
		return err
	}
	now := time.Now()
	if o.Clock != nil {
		now = o.Clock.Now()
	}
	n, err := st.SealClearBodies(ctx, now)
	if err != nil {
		return fmt.Errorf("sealing the clear messages of live emails: %w", err)
	}
	if n > 0 {
		log.Info("sealed the messages of live DCV emails stored in clear", "count", n)
	}
	return st.Tx(ctx, func(tx model.Tx) error {
		return tx.SetSetting(ctx, settingClearSealed, now.UTC().Format(time.RFC3339))
	})
}

// settingClearSealed records when the clear messages of live emails were
// sealed (SealClearBodies, after an upgrade to sealed messages).
const settingClearSealed = "clear_messages_sealed"
