package store

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/dcvmail/dcvmail/internal/model"
)

// This file is the store's side of the mailbox API and page (package
// mailbox): listing and searching captured messages page by page, reading
// one, marking it read, deleting, and a signal that wakes waiters when a
// message is captured.

// StoredMail is a captured message with what the mailbox keeps about it
// beside the message itself.
type StoredMail struct {
	model.CapturedMail
	Read bool
}

// MailField names what a MailCond compares.
type MailField int

// The fields a mailbox search can compare. Text fields match a
// case-insensitive substring.
const (
	MailTo      MailField = iota + 1 // the recipient
	MailFrom                         // the From header as captured
	MailSubject                      // the subject
	MailWords                        // subject, text body, recipient or sender
	MailOrder                        // the order number, exactly (Value is decimal)
	MailRead                         // read (Value "1") or unread ("0")
)

// MailCond is one condition of a mailbox search; Not inverts it.
type MailCond struct {
	Field MailField
	Value string
	Not   bool
}

// MailQuery selects captured messages: all Conds hold, and the ID is above
// AfterID. The page is Limit messages from Start, newest first, or oldest
// first with Oldest. Limit 0 means no limit.
type MailQuery struct {
	Conds        []MailCond
	AfterID      int64
	Start, Limit int
	Oldest       bool
}

const storedMailColumns = `id, outbox_id, order_number, mail_from, recipient, subject, text_body, html_body, message_id, dcv_code, raw, captured_ms, read_flag`

// where builds the WHERE clause of q, numbering its placeholders from 1.
func (mq MailQuery) where() (string, []any) {
	var parts []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	like := func(col, v string) string {
		return "LOWER(" + col + ") LIKE " + arg("%"+escapeLike(strings.ToLower(v))+"%") + ` ESCAPE '\'`
	}
	for _, c := range mq.Conds {
		var p string
		switch c.Field {
		case MailTo:
			p = like("recipient", c.Value)
		case MailFrom:
			p = like("mail_from", c.Value)
		case MailSubject:
			p = like("subject", c.Value)
		case MailWords:
			p = "(" + like("subject", c.Value) + " OR " + like("text_body", c.Value) + " OR " +
				like("recipient", c.Value) + " OR " + like("mail_from", c.Value) + ")"
		case MailOrder:
			n, _ := strconv.ParseInt(c.Value, 10, 64)
			p = "order_number = " + arg(n)
		case MailRead:
			v := 0
			if c.Value == "1" {
				v = 1
			}
			p = "read_flag = " + arg(v)
		default:
			continue
		}
		if c.Not {
			p = "NOT (" + p + ")"
		}
		parts = append(parts, p)
	}
	if mq.AfterID > 0 {
		parts = append(parts, "id > "+arg(mq.AfterID))
	}
	if len(parts) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(parts, " AND "), args
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// MailboxPage returns the page of captured messages that mq selects, and
// how many it selects in all (ignoring Start and Limit).
func (q Reads) MailboxPage(ctx context.Context, mq MailQuery) ([]StoredMail, int, error) {
	q = q.watched() // its count scans the mailbox
	where, args := mq.where()
	var total int
	if err := q.ex.QueryRowContext(ctx, `SELECT COUNT(*) FROM mailbox`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := " ORDER BY id DESC"
	if mq.Oldest {
		order = " ORDER BY id"
	}
	page := ""
	if mq.Limit > 0 {
		page = " LIMIT " + strconv.Itoa(mq.Limit) + " OFFSET " + strconv.Itoa(max(mq.Start, 0))
	} else if mq.Start > 0 {
		// Both dialects accept LIMIT ALL's spelling only in PostgreSQL; a
		// large number serves both.
		page = " LIMIT 9223372036854775807 OFFSET " + strconv.Itoa(mq.Start)
	}
	rows, err := q.ex.QueryContext(ctx, `SELECT `+storedMailColumns+` FROM mailbox`+where+order+page, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []StoredMail{}
	for rows.Next() {
		m, err := scanStoredMail(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}

func scanStoredMail(r interface{ Scan(...any) error }) (StoredMail, error) {
	var m StoredMail
	var at int64
	var read int
	err := r.Scan(&m.ID, &m.DeliveryID, &m.OrderNumber, &m.From, &m.To, &m.Subject, &m.Text, &m.HTML,
		&m.MessageID, &m.DCVCode, &m.Raw, &at, &read)
	m.Captured, m.Read = fromMS(at), read != 0
	return m, err
}

// MailboxCounts returns how many messages the mailbox holds and how many of
// them are unread.
func (q Reads) MailboxCounts(ctx context.Context) (total, unread int, err error) {
	err = q.watched().ex.QueryRowContext(ctx,
		`SELECT COUNT(*), COALESCE(SUM(CASE WHEN read_flag = 0 THEN 1 ELSE 0 END), 0) FROM mailbox`).Scan(&total, &unread)
	return total, unread, err
}

// MailboxMessage returns one captured message, or ErrNotFound.
func (q Reads) MailboxMessage(ctx context.Context, id int64) (StoredMail, error) {
	m, err := scanStoredMail(q.ex.QueryRowContext(ctx, `SELECT `+storedMailColumns+` FROM mailbox WHERE id = $1`, id))
	return m, notFound(err)
}

// MarkMailRead marks a captured message read.
func (q Queries) MarkMailRead(ctx context.Context, id int64) error {
	_, err := q.ex.ExecContext(ctx, `UPDATE mailbox SET read_flag = 1 WHERE id = $1 AND read_flag = 0`, id)
	return err
}

// DeleteMail deletes the captured messages with the given IDs, or every
// captured message when ids is empty, in one statement; IDs that do not
// exist are ignored. It returns how many were deleted.
func (q Queries) DeleteMail(ctx context.Context, ids []int64) (int64, error) {
	query := `DELETE FROM mailbox`
	var args []any
	if len(ids) > 0 {
		var in string
		in, args = inList(q.d, 0, ids)
		query += ` WHERE id IN ` + in
	}
	res, err := q.ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// captureSignal wakes whoever waits for a message to be captured in this
// process (the mailbox's wait endpoint). It is shared by every Store of the
// process: a wake-up for another database only costs a waiter one query.
var captureSignal = newSignal()

// MailboxChanged returns a channel that is closed at the next capture in
// this process. Take it before looking, then wait on it, and no capture
// between the look and the wait is missed.
func (s *Store) MailboxChanged() <-chan struct{} { return captureSignal.next() }

// signal is a broadcast: every channel handed out before a notify is
// closed by it.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}
