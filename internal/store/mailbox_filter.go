package store

import (
	"context"
	"strings"

	"github.com/dcvmail/dcvmail/internal/model"
)

// MailboxFiltered lists the captured messages the filter selects, oldest
// first.
func (q Reads) MailboxFiltered(ctx context.Context, f model.MailFilter) ([]model.CapturedMail, error) {
	var since int64
	if !f.Since.IsZero() {
		since = ms(f.Since)
	}
	rows, err := q.ex.QueryContext(ctx,
		`SELECT id, outbox_id, order_number, mail_from, recipient, subject, text_body, html_body, message_id, dcv_code, raw, captured_ms
		 FROM mailbox
		 WHERE ($1 = 0 OR order_number = $1) AND ($2 = '' OR LOWER(recipient) = $2) AND captured_ms >= $3
		 ORDER BY id`, f.OrderNumber, strings.ToLower(f.To), since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []model.CapturedMail{}
	for rows.Next() {
		var m model.CapturedMail
		var at int64
		if err := rows.Scan(&m.ID, &m.DeliveryID, &m.OrderNumber, &m.From, &m.To, &m.Subject, &m.Text, &m.HTML, &m.MessageID, &m.DCVCode, &m.Raw, &at); err != nil {
			return nil, err
		}
		m.Captured = fromMS(at)
		out = append(out, m)
	}
	return out, rows.Err()
}
