package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// SeedOrders must leave exactly what the one-at-a-time path leaves: each
// order's domains point at its email, the email was delivered once, and the
// order-number counter has moved past the seeded numbers. More orders than
// one INSERT carries cross a chunk boundary.
func TestSeedOrdersMatchesOneAtATime(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acct := account(t, s, "alice")
		const n = 1203
		seeds := make([]store.SeedOrder, n)
		for i := range seeds {
			number := int64(20_000_000 + i)
			seeds[i] = store.SeedOrder{
				Order: model.Order{Number: number, AccountID: acct.ID, BaseNumber: number, Status: model.OrderActive, Created: t0},
				Domains: []model.Domain{
					{Position: 1, Name: "example.com", FQDN: "example.com", Method: model.MethodEmail, Recipient: "admin@example.com", Source: "constructed"},
					{Position: 2, Name: "www.example.com", FQDN: "www.example.com", Method: model.MethodEmail, Recipient: "admin@example.com", Source: "constructed"},
				},
				Email: model.Email{Recipient: "admin@example.com", CodeHash: fmt.Sprintf("seed-%d", i),
					Subject: "s", Text: "t", HTML: "h", Created: t0, Expires: t0.Add(time.Hour)},
				MessageID: fmt.Sprintf("%d@test", i),
			}
		}
		ids, err := s.SeedOrders(ctx, seeds)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 499, 500, n - 1} {
			number := seeds[i].Order.Number
			ds, err := s.Domains(ctx, number)
			if err != nil || len(ds) != 2 {
				t.Fatalf("order %d: domains %v, %v", number, ds, err)
			}
			for _, d := range ds {
				if d.CurrentEmailID != ids[i] || !d.Awaiting() || d.Recipient != "admin@example.com" {
					t.Errorf("order %d domain %d: %+v, want live email %d", number, d.Position, d, ids[i])
				}
			}
			e, err := s.Email(ctx, ids[i])
			if err != nil || e.OrderNumber != number || e.CodeHash != seeds[i].Email.CodeHash {
				t.Errorf("email %d: %+v, %v", ids[i], e, err)
			}
			dels, err := s.DeliveriesOfOrder(ctx, number)
			if err != nil || len(dels) != 1 || dels[0].State != model.DeliverySent {
				t.Errorf("order %d deliveries: %+v, %v", number, dels, err)
			}
		}
		next, err := s.Direct().NextOrderNumber(ctx)
		if err != nil || next != 20_000_000+n {
			t.Errorf("next order number %d, %v; want %d", next, err, 20_000_000+n)
		}

		// A backlog for the worker: pending, due at once, claimable.
		var backlog []model.Delivery
		for i := range 700 {
			backlog = append(backlog, model.Delivery{EmailID: ids[i], Recipient: "admin@example.com", MessageID: fmt.Sprintf("b%d@test", i), Created: t0})
		}
		if err := s.SeedDeliveries(ctx, backlog); err != nil {
			t.Fatal(err)
		}
		if p, err := s.PendingDeliveries(ctx); err != nil || p != 700 {
			t.Fatalf("pending %d, %v; want 700", p, err)
		}
		got, err := s.Claim(ctx, "w", t0, time.Minute, 1000)
		if err != nil || len(got) != 700 {
			t.Fatalf("claimed %d, %v; want 700", len(got), err)
		}
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
