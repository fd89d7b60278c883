package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dcvmail/dcvmail/internal/model"
)

// Bulk loading for benchmarks and load tests (`dcvmail bench`): a million
// orders go in within seconds, where one transaction per order (with its
// fsync) would take an hour. Nothing here checks a rule of package dcv; the
// caller hands in rows that are already consistent.

// SeedOrder is one order as SeedOrders stores it: created, and its first
// DCV email already sent once.
type SeedOrder struct {
	Order model.Order
	// Domains of the order; each awaits validation by email and points at
	// Email (their Recipient and Source are stored as given).
	Domains []model.Domain
	// Email is the order's first DCV email, rendered; its ID is assigned.
	Email model.Email
	// MessageID is the Message-ID of the delivery that sent Email.
	MessageID string
}

// seedRows is how many rows one INSERT carries: well inside SQLite's 32766
// and PostgreSQL's 65535 bound parameters for the widest table here.
const seedRows = 500

// maxSeedArgs bounds the parameters of the one INSERT whose rows are not
// one per order (domains).
const maxSeedArgs = 16000

// SeedOrders stores orders with their domains, their first DCV email and
// its delivery (state sent, one attempt recorded in the outbox row), all in
// one transaction of multi-row INSERTs, and moves the order-number counter
// past the largest number. It returns the IDs of the emails, in the order
// of orders.
func (s *Store) SeedOrders(ctx context.Context, orders []SeedOrder) ([]int64, error) {
	ids := make([]int64, len(orders))
	err := s.tx(ctx, func(tx *Tx) error {
		if s.d == sqliteDialect {
			// A large page cache for this transaction's connection: the
			// random keys of code_hash's index otherwise push pages out and
			// read them back on every chunk once the database outgrows the
			// default 2 MB.
			var was int64
			if err := tx.ex.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
				return err
			}
			if _, err := tx.ex.ExecContext(ctx, `PRAGMA cache_size = -131072`); err != nil {
				return err
			}
			defer tx.ex.ExecContext(ctx, `PRAGMA cache_size = `+strconv.FormatInt(was, 10))
		}
		var maxNumber int64
		for start := 0; start < len(orders); start += seedRows {
			chunk := orders[start:min(start+seedRows, len(orders))]
			ins := tx.multiInsert()
			for _, o := range chunk {
				maxNumber = max(maxNumber, o.Order.Number)
				ins.row(o.Order.Number, o.Order.AccountID, o.Order.BaseNumber, o.Order.Status,
					nullInt(o.Order.TemplateID), ms(o.Order.ResendTAT), ms(o.Order.Created))
			}
			if err := ins.exec(ctx, tx, `INSERT INTO orders (`+orderColumns+`) VALUES `); err != nil {
				return fmt.Errorf("store: seed orders: %w", err)
			}

			ins = tx.multiInsert()
			for _, o := range chunk {
				e := o.Email
				ins.row(o.Order.Number, e.Recipient, nullInt(e.TemplateID), e.CodeHash, ms(e.Created), ms(e.Expires))
			}
			// RETURNING gives no row order on SQLite: match ids by order number
			// (one email per order here).
			rows, err := tx.ex.QueryContext(ctx,
				`INSERT INTO dcv_emails (order_number, recipient, template_id, code_hash, created_ms, expires_ms) VALUES `+
					ins.values()+` RETURNING id, order_number`, ins.args...)
			if err != nil {
				return fmt.Errorf("store: seed emails: %w", err)
			}
			byOrder := make(map[int64]int64, len(chunk))
			for rows.Next() {
				var id, number int64
				if err := rows.Scan(&id, &number); err != nil {
					rows.Close()
					return err
				}
				byOrder[number] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for i, o := range chunk {
				id, ok := byOrder[o.Order.Number]
				if !ok {
					return fmt.Errorf("store: seed: no email id for order %d", o.Order.Number)
				}
				ids[start+i] = id
			}
			ins = tx.multiInsert()
			for i, o := range chunk {
				subject, text, html, sealed, err := tx.sealBody(ids[start+i], o.Email.Subject, o.Email.Text, o.Email.HTML)
				if err != nil {
					return err
				}
				ins.row(ids[start+i], subject, text, html, sealed)
			}
			if err := ins.exec(ctx, tx, `INSERT INTO dcv_email_bodies (email_id, subject, text_body, html_body, sealed) VALUES `); err != nil {
				return fmt.Errorf("store: seed email bodies: %w", err)
			}

			const domainInsert = `INSERT INTO order_domains (order_number, position, domain_name, fqdn, dcv_method, dcv_email, dcv_source, current_email_id) VALUES `
			ins = tx.multiInsert()
			for i, o := range chunk {
				for _, d := range o.Domains {
					ins.row(o.Order.Number, d.Position, d.Name, d.FQDN, d.Method, d.Recipient, d.Source, ids[start+i])
					if len(ins.args) >= maxSeedArgs {
						if err := ins.exec(ctx, tx, domainInsert); err != nil {
							return fmt.Errorf("store: seed domains: %w", err)
						}
						ins = tx.multiInsert()
					}
				}
			}
			if err := ins.exec(ctx, tx, domainInsert); err != nil {
				return fmt.Errorf("store: seed domains: %w", err)
			}

			ins = tx.multiInsert()
			for i, o := range chunk {
				at := ms(o.Email.Created)
				ins.row(ids[start+i], o.Email.Recipient, o.MessageID, model.DeliverySent, 1, at, "250 seeded", at, at)
			}
			if err := ins.exec(ctx, tx, `INSERT INTO outbox (email_id, recipient, message_id, state, attempts, next_attempt_ms, last_reply, created_ms, sent_ms) VALUES `); err != nil {
				return fmt.Errorf("store: seed deliveries: %w", err)
			}
		}
		return tx.raiseCounter(ctx, "order_number", maxNumber)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// SeedDeliveries queues deliveries (EmailID, Recipient, MessageID and
// Created are used), due at once, in one transaction: a backlog for the
// outbox worker to drain.
func (s *Store) SeedDeliveries(ctx context.Context, ds []model.Delivery) error {
	return s.tx(ctx, func(tx *Tx) error {
		for start := 0; start < len(ds); start += seedRows {
			ins := tx.multiInsert()
			for _, d := range ds[start:min(start+seedRows, len(ds))] {
				at := ms(d.Created)
				ins.row(d.EmailID, d.Recipient, d.MessageID, model.DeliveryPending, at, at)
			}
			if err := ins.exec(ctx, tx, `INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) VALUES `); err != nil {
				return fmt.Errorf("store: seed outbox: %w", err)
			}
		}
		return nil
	})
}

// Checkpoint folds SQLite's write-ahead log back into the database file
// (after a bulk load, so that the next run starts from a small WAL). It does
// nothing on PostgreSQL.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.d != sqliteDialect {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// multiInsert collects the rows of one multi-row INSERT. On SQLite the
// placeholders are anonymous (?): with thousands of numbered ones ($N),
// SQLite's parser and the driver's binding look each one up in a list,
// which made a 500-row INSERT quadratic (1.5 ms per order seeded, against
// tens of microseconds).
type multiInsert struct {
	anonymous bool
	args      []any
	sb        strings.Builder
}

func (m *multiInsert) row(values ...any) {
	if m.sb.Len() > 0 {
		m.sb.WriteByte(',')
	}
	m.sb.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			m.sb.WriteByte(',')
		}
		m.args = append(m.args, v)
		if m.anonymous {
			m.sb.WriteByte('?')
			continue
		}
		m.sb.WriteByte('$')
		m.sb.WriteString(strconv.Itoa(len(m.args)))
	}
	m.sb.WriteByte(')')
}

func (m *multiInsert) values() string { return m.sb.String() }

func (m *multiInsert) exec(ctx context.Context, tx *Tx, prefix string) error {
	if len(m.args) == 0 {
		return nil
	}
	_, err := tx.ex.ExecContext(ctx, prefix+m.values(), m.args...)
	return err
}

func (tx *Tx) multiInsert() multiInsert { return multiInsert{anonymous: tx.d == sqliteDialect} }
