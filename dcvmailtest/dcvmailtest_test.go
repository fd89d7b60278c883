package dcvmailtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/dcvmailtest"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/sps"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The walk on PostgreSQL: Options.DB reaches the server.
func TestOnPostgres(t *testing.T) {
	t.Parallel()
	srv := dcvmailtest.StartWith(t, dcvmailtest.Options{DB: pgtest.URL(t)})
	order := srv.AddOrderWith(dcvmailtest.Order{Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	msg := srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
	if got := srv.Confirm(order, msg.DCVCode); got != "confirmed" {
		t.Fatalf("page: %s", got)
	}
}

// Each account sees its own orders only, as at the vendor.
func TestAccountsAreSeparate(t *testing.T) {
	t.Parallel()
	srv := dcvmailtest.Start(t)
	other := srv.AddAccount("other")
	order := srv.AddOrder("example.com")
	_, err := other.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: order})
	var e *sps.Error
	if !errors.As(err, &e) {
		t.Fatalf("another account read the order: %v", err)
	}
	if _, err := srv.Client.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: order}); err != nil {
		t.Fatalf("owner: %v", err)
	}
}

// Reset empties everything but the default account keeps working.
func TestReset(t *testing.T) {
	t.Parallel()
	srv := dcvmailtest.Start(t)
	order := srv.AddOrderWith(dcvmailtest.Order{Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	srv.Mailbox.Wait(fmt.Sprintf("order:%d", order))
	srv.Clock.Advance(time.Hour)
	srv.Reset()
	if n := len(srv.Mailbox.Messages("")); n != 0 {
		t.Errorf("%d messages after reset", n)
	}
	if _, err := srv.Client.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: order}); err == nil {
		t.Errorf("order %d survived the reset", order)
	}
	if d := srv.Clock.Now().Sub(time.Now()); d > time.Minute {
		t.Errorf("clock still %v ahead after reset", d)
	}
	// the default client logs in again
	order = srv.AddOrder("example.org")
	if _, err := srv.Client.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: order}); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

// WaitContext ends with ErrTimeout when nothing comes, after the context's
// deadline and not before.
func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	srv := dcvmailtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := srv.Mailbox.WaitContext(ctx, "to:nobody@example.com", "")
	if !errors.Is(err, dcvmailtest.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if ctx.Err() == nil {
		t.Fatal("returned before the deadline")
	}
}

// A second wait after the first returns the next message, not the same.
func TestWaitAfter(t *testing.T) {
	t.Parallel()
	srv := dcvmailtest.Start(t)
	order := srv.AddOrderWith(dcvmailtest.Order{Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	q := fmt.Sprintf("order:%d", order)
	first := srv.Mailbox.Wait(q)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if m, err := srv.Mailbox.WaitContext(ctx, q, first.ID); !errors.Is(err, dcvmailtest.ErrTimeout) {
		t.Fatalf("second wait: %+v, %v; want a timeout", m, err)
	}
}

// Close removes the server's files; refusals fail the test with the
// server's sentence, not a panic.
func TestCloseAndRefusal(t *testing.T) {
	t.Parallel()
	srv, err := dcvmailtest.New(dcvmailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("adding an account twice did not fail")
		}
		t.Logf("refusal: %v", r)
		dir := srv.Dir()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", dir, err)
		}
	}()
	srv.AddAccount(dcvmailtest.DefaultLogin) // exists: 409
}
