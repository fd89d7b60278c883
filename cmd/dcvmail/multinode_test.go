package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/sps"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// nodes starts n `serve` processes on one PostgreSQL database. They share
// the TLS material: the first node generates it in data, the others load it.
func nodes(t *testing.T, bin, data, db string, n int, args ...string) []string {
	t.Helper()
	var urls []string
	for range n {
		_, base := serveProcess(t, bin, data, append([]string{"--db", db}, args...)...)
		urls = append(urls, base)
	}
	return urls
}

func openStore(t *testing.T, db string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// issue 5: three nodes on one PostgreSQL take 3,000 resends between them;
// every resulting message is delivered exactly once, and every node's
// outbox worker takes part.
func TestThreeNodesDeliverEachMessageOnce(t *testing.T) {
	db := pgtest.URL(t)
	bin := binary(t)
	data := t.TempDir()
	run(t, bin, data, "", "migrate", "--db", db)
	run(t, bin, data, "pw-for-multi\n", "account", "add", "--db", db, "--login", "multi", "--password-stdin")
	const orders, perOrder = 30, 100
	var numbers []int64
	for i := range orders {
		out := run(t, bin, data, "", "order", "add", "--db", db, "--account", "multi",
			"--domain", fmt.Sprintf("site%d.example.com", i), "--dcv-email", fmt.Sprintf("admin@site%d.example.com", i))
		var n int64
		fmt.Sscan(out, &n)
		numbers = append(numbers, n)
	}
	urls := nodes(t, bin, data, db, 3, "--resend-burst", "1000")
	clients := make([]*sps.Client, len(urls))
	for i, u := range urls {
		clients[i] = client(t, u, data, "multi", "pw-for-multi")
		clients[i].HTTPClient.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	}

	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= orders*perOrder {
					return
				}
				c := clients[i%int64(len(clients))]
				if _, err := c.ResendDCVEmail(context.Background(), sps.ResendDCVEmailRequest{OrderNumber: numbers[i%orders]}); err != nil {
					if failed.Add(1) < 5 {
						t.Errorf("resend %d: %v", i, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d resends failed", failed.Load())
	}

	st := openStore(t, db)
	ctx := context.Background()
	waitFor(t, func() bool {
		n, err := st.PendingDeliveries(ctx)
		return err == nil && n == 0
	})
	var deliveries, sentAttempts, captured, workers, duplicated int
	q := func(sql string, dst *int) {
		if err := st.QueryRow(ctx, sql, dst); err != nil {
			t.Fatal(err)
		}
	}
	q(`SELECT COUNT(*) FROM outbox`, &deliveries)
	q(`SELECT COUNT(*) FROM delivery_attempts WHERE outcome = 'sent'`, &sentAttempts)
	q(`SELECT COUNT(*) FROM mailbox`, &captured)
	q(`SELECT COUNT(DISTINCT worker) FROM delivery_attempts`, &workers)
	q(`SELECT COUNT(*) FROM (SELECT outbox_id FROM delivery_attempts WHERE outcome = 'sent' GROUP BY outbox_id HAVING COUNT(*) > 1) d`, &duplicated)
	want := orders + orders*perOrder
	if deliveries != want || sentAttempts != want || captured != want || duplicated != 0 {
		t.Fatalf("deliveries %d, sent %d, captured %d, delivered twice %d; want %d each and 0 twice", deliveries, sentAttempts, captured, duplicated, want)
	}
	// Admin commands run no worker: the first emails of `order add` too are
	// delivered by whichever node claims them.
	if workers != 3 {
		t.Fatalf("%d distinct workers delivered, want all 3 nodes", workers)
	}
	t.Logf("%d messages, each delivered once, by %d workers", want, workers)
}

// twoNodes prepares a PostgreSQL database with one account and one order
// whose first DCV email went to admin@example.com, starts two nodes on it,
// and returns a client of each for the account.
func twoNodes(t *testing.T, login, password string) (bin, data, db string, order int64, urls []string, a, b *sps.Client) {
	t.Helper()
	db = pgtest.URL(t)
	bin = binary(t)
	data = t.TempDir()
	run(t, bin, data, "", "migrate", "--db", db)
	run(t, bin, data, password+"\n", "account", "add", "--db", db, "--login", login, "--password-stdin")
	fmt.Sscan(run(t, bin, data, "", "order", "add", "--db", db, "--account", login, "--domain", "example.com", "--dcv-email", "admin@example.com"), &order)
	urls = nodes(t, bin, data, db, 2)
	return bin, data, db, order, urls, client(t, urls[0], data, login, password), client(t, urls[1], data, login, password)
}

// issue 5: the rules hold across nodes: the per-order resend limit, the
// 24-hour address rule, and a password change.
func TestRulesHoldAcrossNodes(t *testing.T) {
	bin, data, db, order, _, a, b := twoNodes(t, "ann", "first-pass")
	ctx := context.Background()

	// The burst of 5 is shared: four on one node, one on the other, then
	// both refuse.
	for i := range 5 {
		c := a
		if i == 4 {
			c = b
		}
		if _, err := c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order}); err != nil {
			t.Fatalf("resend %d: %v", i+1, err)
		}
	}
	for _, c := range []*sps.Client{a, b} {
		if _, err := c.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: order}); !errors.Is(err, sps.ErrCannotResend) {
			t.Fatalf("sixth resend: %v", err)
		}
	}

	// An address offered by one node may be chosen on the other.
	var other int64
	fmt.Sscan(run(t, bin, data, "", "order", "add", "--db", db, "--account", "ann", "--domain", "example.org"), &other)
	if _, err := a.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "example.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ResendDCVEmail(ctx, sps.ResendDCVEmailRequest{OrderNumber: other, DCVEmailAddress: "hostmaster@example.org"}); err != nil {
		t.Fatalf("address offered by the other node: %v", err)
	}

	// A password changed through one node's database is refused by both at once.
	run(t, bin, data, "second-pass\n", "account", "set", "--db", db, "--login", "ann", "--password-stdin")
	for _, c := range []*sps.Client{a, b} {
		if _, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "example.org"}); !errors.Is(err, sps.ErrAuthentication) {
			t.Fatalf("old password after change: %v", err)
		}
	}
	// A disabled account likewise.
	a.LoginPassword, b.LoginPassword = "second-pass", "second-pass"
	if _, err := a.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "example.org"}); err != nil {
		t.Fatal(err)
	}
	run(t, bin, data, "", "account", "set", "--db", db, "--login", "ann", "--disabled")
	for _, c := range []*sps.Client{a, b} {
		if _, err := c.GetDCVEmailAddressList(ctx, sps.GetDCVEmailAddressListRequest{DomainName: "example.org"}); !errors.Is(err, sps.ErrAuthentication) {
			t.Fatalf("disabled account: %v", err)
		}
	}
}

// issue 5: a code confirmed on one node reads Validated on another.
func TestConfirmOnOneNodeValidatedOnAnother(t *testing.T) {
	bin, data, db, order, urls, a, b := twoNodes(t, "eve", "pw-confirm")

	var code string
	waitFor(t, func() bool {
		var msgs []captured
		json.Unmarshal([]byte(run(t, bin, data, "", "mail", "list", "--json", "--db", db)), &msgs)
		if len(msgs) == 1 {
			code = msgs[0].DCVCode
		}
		return code != ""
	})
	form := url.Values{"orderNumber": {strconv.FormatInt(order, 10)}, "dcvCode": {code}}
	resp, err := a.HTTPClient.PostForm(urls[0]+"/products/EnterDCVCode2", form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "You have entered the correct Domain Control Validation code") {
		t.Fatalf("confirmation on node A: HTTP %d\n%s", resp.StatusCode, page)
	}
	details, err := b.GetMDCDomainDetails(context.Background(), sps.GetMDCDomainDetailsRequest{OrderNumber: order, ShowStatusDetails: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(details.Domains) != 1 || !details.Domains[0].Validated() || details.Domains[0].ValidatedAt.IsZero() {
		t.Fatalf("node B: %+v", details.Domains)
	}
	// docs/rules.md, Evidence: who confirmed, from where, and every attempt.
	show := run(t, bin, data, "", "order", "show", "--db", db, strconv.FormatInt(order, 10))
	for _, want := range []string{"Validated", "127.0.0.1", "Go-http-client", "BR 3.2.2.4.4", "sent"} {
		if !strings.Contains(show, want) {
			t.Errorf("order show lacks %q:\n%s", want, show)
		}
	}
}
