package store

import (
	"context"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Capture stores a delivered message in the mailbox. Capturing the same
// delivery again (a retry after a crash) changes nothing. It is not meant
// for a Tx: it wakes waiters at once, as if it had committed.
func (q Queries) Capture(ctx context.Context, m model.CapturedMail) error {
	_, err := q.ex.ExecContext(ctx,
		`INSERT INTO mailbox (outbox_id, order_number, mail_from, recipient, subject, text_body, html_body, message_id, dcv_code, raw, captured_ms)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (outbox_id) DO NOTHING`,
		m.DeliveryID, m.OrderNumber, m.From, m.To, m.Subject, m.Text, m.HTML, m.MessageID, m.DCVCode, m.Raw, ms(m.Captured))
	if err == nil {
		captureSignal.notify() // mailview.go: wakes the mailbox's waiters
	}
	return err
}

// Mailbox lists captured messages, oldest first; orderNumber 0 means all.
func (q Reads) Mailbox(ctx context.Context, orderNumber int64) ([]model.CapturedMail, error) {
	return q.MailboxFiltered(ctx, model.MailFilter{OrderNumber: orderNumber})
}
