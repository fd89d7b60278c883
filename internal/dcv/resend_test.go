package dcv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

// With DCVMAIL_TEST_BACKEND=postgres the tests that start a server here run
// on PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }

// An identical resend is decided on the order's state read before its
// transaction. Whatever changes the order in between (every store method
// that does raises its version), the resend must decide again under the
// lock: never send the replaced email, never resend for a domain no longer
// awaiting it, never pass the limit.
func TestIdenticalResendDecidesAgainWhenTheOrderChanged(t *testing.T) {
	cases := []struct {
		name   string
		change func(ctx context.Context, tx *store.Tx, order, email int64, now time.Time) error
		// refused: the resend is refused; otherwise it sends the order's
		// live email after the change.
		refused bool
	}{
		{"no change", func(context.Context, *store.Tx, int64, int64, time.Time) error { return nil }, false},
		{"another method", func(ctx context.Context, tx *store.Tx, order, _ int64, _ time.Time) error {
			return tx.SetDomainMethod(ctx, order, 1, store.MethodHTTPCSRHash)
		}, true},
		{"validated", func(ctx context.Context, tx *store.Tx, order, email int64, now time.Time) error {
			_, err := tx.ValidateDomains(ctx, order, email, now)
			return err
		}, true},
		{"cancelled", func(ctx context.Context, tx *store.Tx, order, _ int64, _ time.Time) error {
			return tx.SetOrderStatus(ctx, order, store.OrderCancelled)
		}, true},
		{"limit reached", func(ctx context.Context, tx *store.Tx, order, _ int64, now time.Time) error {
			return tx.SetOrderResend(ctx, order, 0, now.Add(time.Hour))
		}, true},
		{"new email", func(ctx context.Context, tx *store.Tx, order, _ int64, now time.Time) error {
			id, err := tx.CreateEmail(ctx, store.Email{OrderNumber: order, Recipient: "hostmaster@example.com", CodeHash: "replacement",
				Subject: "s", Text: "t", Created: now, Expires: now.Add(time.Hour)})
			if err != nil {
				return err
			}
			return tx.SetDomainRecipient(ctx, order, 1, "hostmaster@example.com", "constructed", id)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := dcvtest.Start(t, dcvtest.Options{})
			acct := env.AddAccount("alice", "correct horse battery staple", false)
			order := env.AddOrder("alice", []string{"example.com"}, 0, "admin@example.com")
			env.Drain()
			ctx := context.Background()
			first, err := env.Store.Domains(ctx, order)
			if err != nil {
				t.Fatal(err)
			}
			ran := false
			env.DCV.OnPlanned(func() {
				ran = true
				err := env.Store.Tx(ctx, func(tx *store.Tx) error {
					return c.change(ctx, tx, order, first[0].CurrentEmailID, env.Clock.Now())
				})
				if err != nil {
					t.Errorf("change: %v", err)
				}
			})
			before, err := env.Store.DeliveriesOfOrder(ctx, order)
			if err != nil {
				t.Fatal(err)
			}
			err = env.DCV.Resend(ctx, dcv.ResendRequest{Account: acct, OrderNumber: order})
			if !ran {
				t.Fatal("the resend was not planned outside its transaction")
			}
			after, derr := env.Store.DeliveriesOfOrder(ctx, order)
			if derr != nil {
				t.Fatal(derr)
			}
			var refusal *dcv.Error
			if c.refused {
				if !errors.As(err, &refusal) || refusal.Kind != dcv.CannotResend {
					t.Fatalf("resend: %v, want CannotResend", err)
				}
				if len(after) != len(before) {
					t.Fatalf("a refused resend enqueued %d deliveries", len(after)-len(before))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			now, err := env.Store.Domains(ctx, order)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%d deliveries enqueued, want 1", len(after)-len(before))
			}
			if got := after[len(after)-1]; got.EmailID != now[0].CurrentEmailID || got.Recipient != now[0].Recipient {
				t.Fatalf("sent email %d to %s; the live one is %d to %s", got.EmailID, got.Recipient, now[0].CurrentEmailID, now[0].Recipient)
			}
		})
	}
}
