package delivery

import (
	"context"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// CodeFinder returns the random value in text whose keyed hash is codeHash,
// or "" (package dcv provides it: only it knows the format and the key).
type CodeFinder func(text, codeHash string) string

// Mailbox is the built-in sender used when no SMTP server is configured: it
// captures each message in the database, where `dcvmail mail list` and the
// admin listener show it. It never relays anything anywhere.
type Mailbox struct {
	Store *store.Store
	Clock clock.Clock
	Codes CodeFinder
	// DKIM, when set, signs the captured raw message as SMTP delivery would.
	DKIM *mail.DKIM
}

// Send captures the message.
func (m *Mailbox) Send(ctx context.Context, d model.Delivery, msg mail.Message) (string, error) {
	raw, err := msg.Bytes()
	if err != nil {
		return "", &PermanentError{Err: err}
	}
	if m.DKIM != nil {
		if raw, err = m.DKIM.Sign(raw); err != nil {
			return "", err
		}
	}
	c := model.CapturedMail{
		DeliveryID:  d.ID,
		OrderNumber: d.OrderNumber,
		From:        msg.From,
		To:          msg.To,
		Subject:     msg.Subject,
		Text:        msg.Text,
		HTML:        msg.HTML,
		MessageID:   msg.MessageID,
		DCVCode:     m.Codes(msg.Text, d.CodeHash),
		Raw:         string(raw),
		Captured:    m.Clock.Now(),
	}
	if err := m.Store.Capture(ctx, c); err != nil {
		return "", err
	}
	return "250 captured in the built-in mailbox", nil
}
