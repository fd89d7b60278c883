package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// issue 15: the filters of `dcvmail mail list`, on both databases.
func TestMailboxFiltered(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		one, two := order(t, s, alice, 1, 1), order(t, s, alice, 2, 2)
		for i, m := range []struct {
			email  int64
			number int64
			to     string
		}{{one, 1, "admin@example.com"}, {one, 1, "Hostmaster@Example.com"}, {two, 2, "admin@example.com"}} {
			id, err := s.Direct().Enqueue(ctx, m.email, m.to, "m@test", t0)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Capture(ctx, model.CapturedMail{DeliveryID: id, OrderNumber: m.number, To: m.to, Subject: "s", DCVCode: string(rune('A' + i)), Captured: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			f    model.MailFilter
			want string
		}{
			{model.MailFilter{}, "ABC"},
			{model.MailFilter{OrderNumber: 1}, "AB"},
			{model.MailFilter{To: "hostmaster@example.com"}, "B"},
			{model.MailFilter{To: "ADMIN@EXAMPLE.COM", OrderNumber: 2}, "C"},
			{model.MailFilter{Since: t0.Add(time.Hour)}, "BC"},
			{model.MailFilter{Since: t0.Add(time.Hour), OrderNumber: 1, To: "admin@example.com"}, ""},
		} {
			got, err := s.MailboxFiltered(ctx, tt.f)
			if err != nil || got == nil {
				t.Fatalf("%+v: %v", tt.f, err)
			}
			var codes []byte
			for _, m := range got {
				codes = append(codes, m.DCVCode...)
			}
			if string(codes) != tt.want {
				t.Errorf("%+v: %q, want %q", tt.f, codes, tt.want)
			}
		}
	})
}

// issue 15: ClearLoginFailures forgets the named subjects only.
func TestClearLoginFailures(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		subjects := []model.LoginSubject{{Subject: "login:aa"}, {Subject: "login:bb"}, {Subject: "source:192.0.2.1"}}
		if _, err := s.CountLoginFailures(ctx, subjects, t0, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.ClearLoginFailures(ctx); n != 0 || err != nil {
			t.Fatalf("no subjects: %d %v", n, err)
		}
		if n, err := s.ClearLoginFailures(ctx, "login:aa", "source:192.0.2.1", "login:none"); n != 2 || err != nil {
			t.Fatalf("cleared %d, %v; want 2", n, err)
		}
		st, err := s.LoginStateOf(ctx, "x", "", "login:aa", "login:bb", "source:192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, f := range st.Failures {
			left = append(left, f.Subject)
		}
		if !slices.Equal(left, []string{"login:bb"}) {
			t.Fatalf("left %v, want login:bb", left)
		}
	})
}
