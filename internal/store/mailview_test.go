package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

func TestMailboxQueries(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		changed := s.MailboxChanged()
		for i, to := range []string{"admin@example.com", "hostmaster@example.org", "a_b%c@example.net"} {
			n := int64(i + 1)
			email := order(t, s, alice, n, n)
			id, _ := s.Direct().Enqueue(ctx, email, to, "m@test", t0)
			if err := s.Capture(ctx, model.CapturedMail{DeliveryID: id, OrderNumber: n, From: "dcv@x", To: to,
				Subject: "Validation for order", Text: "code ZZ" + to, Raw: "raw", Captured: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-changed:
		default:
			t.Fatal("a capture did not signal")
		}
		page := func(q store.MailQuery) []int64 {
			t.Helper()
			got, _, err := s.MailboxPage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var orders []int64
			for _, m := range got {
				orders = append(orders, m.OrderNumber)
			}
			return orders
		}
		eq := func(got []int64, want ...int64) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
		}
		eq(page(store.MailQuery{}), 3, 2, 1)
		eq(page(store.MailQuery{Oldest: true, Limit: 1}), 1)
		eq(page(store.MailQuery{Start: 1, Limit: 1}), 2)
		eq(page(store.MailQuery{Start: 2}), 1)
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailTo, Value: "EXAMPLE.ORG"}}}), 2)
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailTo, Value: "_"}}}), 3) // LIKE wildcards are literal
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailTo, Value: "%"}}}), 3)
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailOrder, Value: "2"}}}), 2)
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailWords, Value: "zzadmin"}}}), 1)
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailOrder, Value: "2", Not: true}}}), 3, 1)
		all, _, _ := s.MailboxPage(ctx, store.MailQuery{Oldest: true})
		eq(page(store.MailQuery{AfterID: all[0].ID, Oldest: true}), 2, 3)

		if err := s.MarkMailRead(ctx, all[0].ID); err != nil {
			t.Fatal(err)
		}
		if total, unread, err := s.MailboxCounts(ctx); total != 3 || unread != 2 || err != nil {
			t.Fatalf("counts %d %d %v", total, unread, err)
		}
		eq(page(store.MailQuery{Conds: []store.MailCond{{Field: store.MailRead, Value: "1"}}}), 1)
		if m, err := s.MailboxMessage(ctx, all[0].ID); err != nil || !m.Read || m.To != "admin@example.com" {
			t.Fatalf("%+v %v", m, err)
		}
		if _, err := s.MailboxMessage(ctx, 99999); err != model.ErrNotFound {
			t.Fatalf("unknown: %v", err)
		}
		if n, err := s.DeleteMail(ctx, []int64{all[0].ID, 99999}); n != 1 || err != nil {
			t.Fatalf("delete: %d %v", n, err)
		}
		if n, err := s.DeleteMail(ctx, nil); n != 2 || err != nil {
			t.Fatalf("delete all: %d %v", n, err)
		}
	})
}
