package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// openAtVersion opens a store migrated up and back down to exactly
// version v, with the account alice.
func openAtVersion(t *testing.T, url string, v int64) (*store.Store, model.Account) {
	t.Helper()
	s := open(t, url)
	if err := s.MigrateTo(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return s, account(t, s, "alice")
}

// Migration 00004 moves the messages of existing emails into
// dcv_email_bodies without losing one, and its Down puts them back.
func TestMigrationMovesEmailBodies(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, a := openAtVersion(t, b.url(t), 3)
			if err := s.Direct().CreateOrder(ctx, model.Order{Number: 7, AccountID: a.ID, BaseNumber: 7, Status: model.OrderActive, Created: t0}, nil); err != nil {
				t.Fatal(err)
			}
			for _, e := range []struct{ hash, subject, text, html string }{
				{"h1", "first", "text one", "<p>one</p>"},
				{"h2", "second", "text two", ""},
			} {
				if err := s.Exec(ctx, `INSERT INTO dcv_emails (order_number, recipient, code_hash, subject, text_body, html_body, created_ms, expires_ms)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, 7, "admin@example.com", e.hash, e.subject, e.text, e.html, t0.UnixMilli(), t0.Add(time.Hour).UnixMilli()); err != nil {
					t.Fatal(err)
				}
			}
			check := func(when string) {
				t.Helper()
				emails, err := s.EmailsOfOrder(ctx, 7)
				if err != nil || len(emails) != 2 {
					t.Fatalf("%s: %+v %v", when, emails, err)
				}
				if e := emails[0]; e.CodeHash != "h1" || e.Subject != "first" || e.Text != "text one" || e.HTML != "<p>one</p>" || e.Recipient != "admin@example.com" || !e.Expires.Equal(t0.Add(time.Hour)) {
					t.Fatalf("%s: first %+v", when, e)
				}
				if e := emails[1]; e.CodeHash != "h2" || e.Subject != "second" || e.Text != "text two" || e.HTML != "" {
					t.Fatalf("%s: second %+v", when, e)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			check("after 00004")
			var n int
			if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM dcv_email_bodies`, &n); err != nil || n != 2 {
				t.Fatalf("bodies: %d %v", n, err)
			}
			if err := s.MigrateTo(ctx, 3); err != nil {
				t.Fatal(err)
			}
			var subject string
			if err := s.QueryRow(ctx, `SELECT subject FROM dcv_emails WHERE code_hash = 'h2'`, &subject); err != nil || subject != "second" {
				t.Fatalf("down: subject %q %v", subject, err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			check("up again")
		})
	}
}

// Migration 5 rebuilds orders and order_domains on SQLite with new keys:
// every row, every index and every foreign key survives, both ways. On
// PostgreSQL it changes nothing, and the same data reads the same.
func TestMigrationRekeysOrders(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, a := openAtVersion(t, b.url(t), 4)
			domains := []model.Domain{
				{Position: 0, Name: "*.example.com", FQDN: "example.com", Method: model.MethodEmail},
				{Position: 1, Name: "www.example.org", FQDN: "www.example.org", Method: model.MethodEmail},
			}
			for _, n := range []int64{10000001, 10000002} {
				o := model.Order{Number: n, AccountID: a.ID, BaseNumber: 10000001, Status: model.OrderActive, Created: t0}
				if err := s.Direct().CreateOrder(ctx, o, domains); err != nil {
					t.Fatal(err)
				}
			}
			email, err := s.Direct().CreateEmail(ctx, model.Email{OrderNumber: 10000002, Recipient: "admin@example.com", CodeHash: "h1",
				Subject: "s", Text: "t", Created: t0, Expires: t0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Direct().SetDomainRecipient(ctx, 10000002, 0, "admin@example.com", "constructed", email); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Direct().ValidateDomains(ctx, 10000002, email, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := s.Direct().SetOrderResend(ctx, 10000001, 0, t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				// The domains are read in SQL of their own: the store's
				// reads of an order's state know only the newest schema.
				var (
					n                     int
					name, to, hash, fqdn  string
					cur, byEmail, validMS int64
				)
				if err := s.Row(ctx, `SELECT COUNT(*) FROM order_domains WHERE order_number = $1`, 10000002).Scan(&n); err != nil || n != 2 {
					t.Fatalf("%s: %d domains (%v), want 2", when, n, err)
				}
				if err := s.Row(ctx, `SELECT fqdn FROM order_domains WHERE order_number = $1 AND position = 1`, 10000002).Scan(&fqdn); err != nil || fqdn != "www.example.org" {
					t.Fatalf("%s: second domain %q (%v)", when, fqdn, err)
				}
				if err := s.Row(ctx, `SELECT d.domain_name, d.current_email_id, d.validated_email_id, d.validated_ms, d.dcv_email, e.code_hash
					FROM order_domains d JOIN dcv_emails e ON e.id = d.current_email_id
					WHERE d.order_number = $1 AND d.position = 0`, 10000002).Scan(&name, &cur, &byEmail, &validMS, &to, &hash); err != nil ||
					name != "*.example.com" || cur != email || byEmail != email || validMS != t0.Add(time.Minute).UnixMilli() || to != "admin@example.com" || hash != "h1" {
					t.Fatalf("%s: first domain %q, email %d, validated by %d at %d, recipient %q, live code %q (%v)", when, name, cur, byEmail, validMS, to, hash, err)
				}
				o, err := s.Order(ctx, a.ID, 10000001)
				if err != nil || !o.ResendTAT.Equal(t0.Add(time.Second)) || o.BaseNumber != 10000001 {
					t.Fatalf("%s: order %+v %v", when, o, err)
				}
				if n, err := s.NewestInChain(ctx, a.ID, 10000001); err != nil || n != 10000002 {
					t.Fatalf("%s: newest in chain %d %v", when, n, err)
				}
				// The foreign keys still hold: a domain of an order that
				// does not exist is refused.
				bad := model.Domain{OrderNumber: 99999999, Position: 0, Name: "x.example", FQDN: "x.example", Method: model.MethodEmail}
				if err := s.Exec(ctx, `INSERT INTO order_domains (order_number, position, domain_name, fqdn, dcv_method) VALUES ($1, $2, $3, $4, $5)`,
					bad.OrderNumber, bad.Position, bad.Name, bad.FQDN, bad.Method); err == nil {
					t.Fatalf("%s: a domain of a missing order was accepted", when)
				}
			}
			check("before 5")
			schema := func() string {
				if b.name != "sqlite" {
					return ""
				}
				var orders, domains string
				if err := s.QueryRow(ctx, `SELECT sql FROM sqlite_master WHERE name = 'orders'`, &orders); err != nil {
					t.Fatal(err)
				}
				if err := s.QueryRow(ctx, `SELECT sql FROM sqlite_master WHERE name = 'order_domains'`, &domains); err != nil {
					t.Fatal(err)
				}
				return orders + "\n" + domains
			}
			old := schema()
			if err := s.MigrateTo(ctx, 5); err != nil {
				t.Fatal(err)
			}
			check("after 5")
			if b.name == "sqlite" {
				if got := schema(); !strings.Contains(got, "INTEGER PRIMARY KEY") || !strings.Contains(got, "WITHOUT ROWID") {
					t.Fatalf("not rekeyed:\n%s", got)
				}
				var indexes int
				if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('orders_base', 'orders_account', 'order_domains_email')`, &indexes); err != nil || indexes != 3 {
					t.Fatalf("indexes after 5: %d %v", indexes, err)
				}
			}
			// A process that stops after the rebuild but before goose
			// records version 5 runs the migration again at its next
			// start: it finds the tables rebuilt and changes nothing.
			rootpage := func() int64 {
				var p int64
				if b.name == "sqlite" {
					if err := s.QueryRow(ctx, `SELECT rootpage FROM sqlite_master WHERE name = 'orders'`, &p); err != nil {
						t.Fatal(err)
					}
				}
				return p
			}
			// Later migrations step back first, so that 5 is the last one
			// recorded, as it was when that process stopped.
			if err := s.MigrateTo(ctx, 5); err != nil {
				t.Fatal(err)
			}
			was := rootpage()
			if err := s.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = 5`); err != nil {
				t.Fatal(err)
			}
			if err := s.MigrateTo(ctx, 5); err != nil {
				t.Fatal(err)
			}
			check("5 run again")
			if rootpage() != was {
				t.Fatal("5 run again rebuilt the tables a second time")
			}
			if err := s.MigrateTo(ctx, 4); err != nil {
				t.Fatal(err)
			}
			check("down to 4")
			if got := schema(); b.name == "sqlite" && (strings.Contains(got, "WITHOUT ROWID") || strings.Contains(got, "INTEGER PRIMARY KEY")) {
				t.Fatalf("down left the new keys:\n%s\nwas:\n%s", got, old)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			check("up again")
		})
	}
}

// Migration 00015 names each delivery's newest attempt, which OrderDeliveries
// reads: deliveries attempted before it report their newest attempt after
// it, and one never attempted reports none.
func TestMigrationNamesNewestAttempt(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, a := openAtVersion(t, b.url(t), 14)
			email, other := order(t, s, a, 1, 1), order(t, s, a, 2, 2)
			tried, err := s.Direct().Enqueue(ctx, email, "admin@example.com", "m1@test", t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Direct().Enqueue(ctx, other, "admin@example.com", "m2@test", t0); err != nil {
				t.Fatal(err)
			}
			for i, reply := range []string{"451 first", "451 second"} {
				if err := s.Exec(ctx, `INSERT INTO delivery_attempts (outbox_id, attempted_ms, outcome, reply, worker) VALUES ($1, $2, 'retry', $3, 'w')`,
					tried, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), reply); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := sendings(ctx, s, a, 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			if e := got[email]; !e.Queued || e.Last.DeliveryID != tried || e.Last.Reply != "451 second" || !e.Last.At.Equal(t0.Add(time.Minute)) {
				t.Fatalf("attempted delivery: %+v", e)
			}
			if o := got[other]; !o.Queued || o.Last.DeliveryID != 0 {
				t.Fatalf("delivery never attempted: %+v", o)
			}
		})
	}
}

// Migration 00016 gives each existing offer the hour it was made in, by
// which pruning finds it, and its Down removes the hour again.
func TestMigrationGivesOffersTheirHour(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, a := openAtVersion(t, b.url(t), 15)
			made := t0.Add(90 * time.Minute) // 13:30
			if err := s.Exec(ctx, `INSERT INTO address_offers (account_id, fqdn, mailbox, source, adn, offered_ms) VALUES ($1, 'example.com', 'admin@example.com', 'constructed', 'example.com', $2)`,
				a.ID, made.UnixMilli()); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var hour int64
			if err := s.QueryRow(ctx, `SELECT offered_hour FROM address_offers`, &hour); err != nil || hour != made.Unix()/3600 {
				t.Fatalf("offered_hour %d (%v), want %d", hour, err, made.Unix()/3600)
			}
			// Its hour ends at 14:00: a cutoff before keeps it, one at 14:00 prunes it.
			for _, c := range []struct {
				cutoff time.Time
				want   int64
			}{{made.Add(29 * time.Minute), 0}, {made.Add(30 * time.Minute), 1}} {
				if n, err := s.PruneOffers(ctx, c.cutoff); err != nil || n != c.want {
					t.Fatalf("prune at %s: %d (%v), want %d", c.cutoff.Format("15:04"), n, err, c.want)
				}
			}
			if err := s.MigrateTo(ctx, 15); err != nil {
				t.Fatal(err)
			}
			if err := s.QueryRow(ctx, `SELECT COUNT(offered_hour) FROM address_offers`, &hour); err == nil {
				t.Fatal("after the Down, address_offers still has offered_hour")
			}
		})
	}
}

// Migration 18 moves order numbers and certificate IDs to sequences on
// PostgreSQL, continuing from the counters, and its Down writes the last
// values back; on SQLite the counters stay.
func TestMigrationKeepsNumbering(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, _ := openAtVersion(t, b.url(t), 17)
			// As if 41 orders and certificates had been made.
			if err := s.Exec(ctx, `UPDATE counters SET value = value + 41`); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var order, cert int64
			err := s.Tx(ctx, func(tx model.Tx) (err error) { order, cert, err = takeNumbers(ctx, tx); return err })
			if err != nil || order != 10000042 || cert != 100000042 {
				t.Fatalf("after the migration: %d, %d (%v), want 10000042, 100000042", order, cert, err)
			}
			if err := s.MigrateTo(ctx, 17); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]int64{"order_number": 10000042, "certificate_id": 100000042} {
				var v int64
				if err := s.QueryRow(ctx, `SELECT value FROM counters WHERE name = $1`, &v, name); err != nil || v != want {
					t.Fatalf("%s after the Down: %d (%v), want %d", name, v, err, want)
				}
			}
		})
	}
}
