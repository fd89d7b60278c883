package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// Migration 00004 moves the messages of existing emails into
// dcv_email_bodies without losing one, and its Down puts them back.
func TestMigrationMovesEmailBodies(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, b.url(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.MigrateTo(ctx, 3); err != nil {
				t.Fatal(err)
			}
			a, err := s.CreateAccount(ctx, store.Account{Login: "alice", PasswordHash: "h", Created: t0})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateOrder(ctx, store.Order{Number: 7, AccountID: a.ID, BaseNumber: 7, Status: store.OrderActive, Created: t0}, nil); err != nil {
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
