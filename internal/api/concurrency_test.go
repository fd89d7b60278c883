package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// post sends an API form from any goroutine (the Env's helpers may stop the
// test, which only its own goroutine may do).
func post(f *fixture, path string, form url.Values) (string, error) {
	resp, err := f.Client.Post(f.Server.URL()+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("POST %s: status %d", path, resp.StatusCode)
	}
	return string(b), err
}

// Rule 7 under concurrency: forty identical resends at once get exactly
// the burst of five through, each with one delivery (on SQLite they commit
// together in shared batches, on PostgreSQL they wait on the order's lock).
func TestRule7ConcurrentResendsKeepTheLimit(t *testing.T) {
	f := newFixture(t, dcvtest.Options{})
	before := f.Count(f.order)
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			got, err := post(f, resendPath, form("loginName", alice, "loginPassword", alicePass, "orderNumber", n(f.order)))
			if err != nil {
				t.Errorf("resend: %v %s", err, got)
				return
			}
			if strings.HasPrefix(got, cannotResendPrefix) {
				got = cannotResendPrefix
			}
			mu.Lock()
			answers[got]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if answers["errorCode=0"] != 5 || answers[cannotResendPrefix] != 35 {
		t.Fatalf("answers %v, want 5 errorCode=0 and 35 refused", answers)
	}
	if after := f.Count(f.order); after.Deliveries != before.Deliveries+5 || after.Emails != before.Emails {
		t.Fatalf("rows %+v -> %+v, want 5 more deliveries of the same email", before, after)
	}
}

// Identical resends racing with resends to new addresses never send an
// email that a switch has replaced: in the order the outbox took them,
// the deliveries' emails never go back to an older one. On PostgreSQL this
// failed when the order's lock was taken by the query that joins its
// domains (store.LockOrderState): after waiting for the lock, it returned
// the domains as they were before the switch.
func TestIdenticalResendsNeverSendAReplacedEmail(t *testing.T) {
	f := newFixture(t, dcvtest.Options{ResendBurst: 1 << 30})
	if got := f.offer("example.com"); !strings.HasPrefix(got, "0\n") {
		t.Fatalf("offer: %s", got)
	}
	addresses := []string{"hostmaster@example.com", "postmaster@example.com", "webmaster@example.com", "admin@example.com"}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 40 {
				extra := []string{"loginName", alice, "loginPassword", alicePass, "orderNumber", n(f.order)}
				if w == 0 && i%4 == 0 {
					extra = append(extra, "dcvEmailAddress", addresses[(i/4)%len(addresses)])
				}
				got, err := post(f, resendPath, form(extra...))
				if err != nil || got != "errorCode=0" {
					t.Errorf("resend %v: %v %s", extra[6:], err, got)
					return
				}
			}
		})
	}
	wg.Wait()
	ds, err := f.Store.DeliveriesOfOrder(context.Background(), f.order)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1+6*40 {
		t.Fatalf("%d deliveries, want %d", len(ds), 1+6*40)
	}
	emails := map[int64]bool{}
	for i, d := range ds {
		emails[d.EmailID] = true
		if i > 0 && d.EmailID < ds[i-1].EmailID {
			t.Fatalf("delivery %d sends email %d after delivery %d sent its replacement %d", d.ID, d.EmailID, ds[i-1].ID, ds[i-1].EmailID)
		}
	}
	if len(emails) < 2 {
		t.Fatalf("no switch happened: emails %v", emails)
	}
}
