package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backends is the one table of databases every store test runs against.
var backends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return store.SQLiteURL(filepath.Join(t.TempDir(), "test.db")) }},
	{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
}

// each runs fn against a fresh, migrated database of every back end.
func each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, open(t, b.url(t)))
		})
	}
}

// onPostgres runs fn against a fresh, migrated PostgreSQL database alone,
// for what concerns its planner or its connections.
func onPostgres(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Run("postgres", func(t *testing.T) { fn(t, open(t, pgtest.URL(t))) })
}

// storedOffers counts the offers in the store.
func storedOffers(t *testing.T, s *store.Store) int {
	t.Helper()
	n, err := s.CountOffers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// takeNumbers takes an order number and a certificate ID in tx.
func takeNumbers(ctx context.Context, tx model.Tx) (order, cert int64, err error) {
	if order, err = tx.NextOrderNumber(ctx); err != nil {
		return 0, 0, err
	}
	cert, err = tx.NextCertificateID(ctx)
	return order, cert, err
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func account(t *testing.T, s *store.Store, login string) model.Account {
	t.Helper()
	a, err := s.Direct().CreateAccount(context.Background(), model.Account{Login: login, PasswordHash: "h-" + login, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// order creates an order with one domain and one email that is its live
// email, and returns the email id.
func order(t testing.TB, s *store.Store, acct model.Account, number, base int64) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.Tx(ctx, func(tx model.Tx) error {
		o := model.Order{Number: number, AccountID: acct.ID, BaseNumber: base, Status: model.OrderActive, Created: t0}
		if err := tx.CreateOrder(ctx, o, []model.Domain{{Position: 1, Name: "example.com", FQDN: "example.com", Method: model.MethodEmail}}); err != nil {
			return err
		}
		var err error
		id, err = tx.CreateEmail(ctx, model.Email{OrderNumber: number, Recipient: "admin@example.com", CodeHash: fmt.Sprintf("hash-%d", number),
			Subject: "s", Text: "t", HTML: "h", Created: t0, Expires: t0.Add(time.Hour)})
		if err != nil {
			return err
		}
		return tx.SetDomainRecipient(ctx, number, 1, "admin@example.com", "constructed", id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAccounts(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := account(t, s, "alice")
		if _, err := s.Direct().CreateAccount(ctx, model.Account{Login: "alice", PasswordHash: "x", Created: t0}); !errors.Is(err, model.ErrExists) {
			t.Fatalf("duplicate login: %v", err)
		}
		if _, err := s.AccountByLogin(ctx, "ALICE"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("logins are case-sensitive: %v", err)
		}
		a.PasswordHash, a.ReadOnly, a.Disabled, a.Updated = "new", true, true, t0.Add(time.Hour)
		if err := s.Direct().UpdateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, err := s.AccountByID(ctx, a.ID)
		if err != nil || got.PasswordHash != "new" || !got.ReadOnly || !got.Disabled || !got.Updated.Equal(t0.Add(time.Hour)) || !got.Created.Equal(t0) {
			t.Fatalf("%+v %v", got, err)
		}
	})
}

func TestOrdersChainsAndScoping(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := account(t, s, "alice"), account(t, s, "bob")
		n1, _ := s.Direct().NextOrderNumber(ctx)
		n2, _ := s.Direct().NextOrderNumber(ctx)
		if n1 != 10000001 || n2 != n1+1 {
			t.Fatalf("order numbers %d %d", n1, n2)
		}
		order(t, s, alice, n1, n1)
		order(t, s, alice, n2, n1)
		order(t, s, bob, 555, 555)
		if err := s.Direct().CreateOrder(ctx, model.Order{Number: n1, AccountID: alice.ID, BaseNumber: n1, Status: model.OrderActive}, nil); !errors.Is(err, model.ErrExists) {
			t.Fatalf("duplicate order: %v", err)
		}
		if newest, err := s.NewestInChain(ctx, alice.ID, n1); err != nil || newest != n2 {
			t.Fatalf("newest in chain: %d %v", newest, err)
		}
		if _, err := s.NewestInChain(ctx, bob.ID, n1); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("another account's chain: %v", err)
		}
		if _, err := s.Order(ctx, alice.ID, 555); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("another account's order: %v", err)
		}
		err := s.Tx(ctx, func(tx model.Tx) error {
			o, err := tx.LockOrderState(ctx, alice.ID, n2)
			if err != nil || o.BaseNumber != n1 {
				return fmt.Errorf("lock: %+v %v", o, err)
			}
			return tx.SetOrderResend(ctx, n2, 7, t0.Add(time.Minute))
		})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := s.OrderByNumber(ctx, n2)
		if o.TemplateID != 7 || !o.ResendTAT.Equal(t0.Add(time.Minute)) {
			t.Fatalf("%+v", o)
		}
	})
}

// LockOrderState reads an order, its domains in order and the heads of
// their live emails in one statement; another account's order is not found.
func TestLockOrderState(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := account(t, s, "alice"), account(t, s, "bob")
		var shared, single int64
		err := s.Tx(ctx, func(tx model.Tx) error {
			o := model.Order{Number: 42, AccountID: alice.ID, BaseNumber: 40, Status: model.OrderActive, TemplateID: 3, Created: t0}
			err := tx.CreateOrder(ctx, o, []model.Domain{
				{Position: 3, Name: "c.example.com", FQDN: "c.example.com", Method: model.MethodHTTPCSRHash},
				{Position: 1, Name: "*.example.com", FQDN: "example.com", Method: model.MethodEmail},
				{Position: 2, Name: "b.example.com", FQDN: "b.example.com", Method: model.MethodEmail},
				{Position: 4, Name: "d.example.com", FQDN: "d.example.com", Method: model.MethodEmail},
			})
			if err != nil {
				return err
			}
			if shared, err = tx.CreateEmail(ctx, model.Email{OrderNumber: 42, Recipient: "admin@example.com", TemplateID: 3, CodeHash: "h1",
				Subject: "s", Text: "t", HTML: "h", Created: t0, Expires: t0.Add(time.Hour)}); err != nil {
				return err
			}
			if single, err = tx.CreateEmail(ctx, model.Email{OrderNumber: 42, Recipient: "hostmaster@d.example.com", CodeHash: "h2",
				Subject: "s", Text: "t", Created: t0, Expires: t0.Add(2 * time.Hour)}); err != nil {
				return err
			}
			for pos, id := range map[int]int64{1: shared, 2: shared, 4: single} {
				if err := tx.SetDomainRecipient(ctx, 42, pos, "x", "constructed", id); err != nil {
					return err
				}
			}
			return tx.CreateOrder(ctx, model.Order{Number: 43, AccountID: alice.ID, BaseNumber: 43, Status: model.OrderCancelled, Created: t0}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		var st model.OrderState
		if err := s.Tx(ctx, func(tx model.Tx) error { st, err = tx.LockOrderState(ctx, alice.ID, 42); return err }); err != nil {
			t.Fatal(err)
		}
		if st.Number != 42 || st.BaseNumber != 40 || st.TemplateID != 3 || st.Status != model.OrderActive || !st.Created.Equal(t0) {
			t.Fatalf("order %+v", st.Order)
		}
		var positions []int
		for _, d := range st.Domains {
			positions = append(positions, d.Position)
		}
		if fmt.Sprint(positions) != "[1 2 3 4]" || st.Domains[0].Name != "*.example.com" || st.Domains[2].CurrentEmailID != 0 || st.Domains[3].CurrentEmailID != single {
			t.Fatalf("domains %+v", st.Domains)
		}
		if len(st.Live) != 2 {
			t.Fatalf("live emails %+v", st.Live)
		}
		if e := st.Live[shared]; e.ID != shared || e.Recipient != "admin@example.com" || e.TemplateID != 3 || e.CodeHash != "h1" || !e.Expires.Equal(t0.Add(time.Hour)) || e.Text != "" {
			t.Fatalf("shared email %+v", e)
		}
		if e := st.Live[single]; e.Recipient != "hostmaster@d.example.com" || e.TemplateID != 0 || !e.Expires.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("single email %+v", e)
		}
		// The message stays readable where it is needed.
		if e, err := s.Email(ctx, shared); err != nil || e.Subject != "s" || e.Text != "t" || e.HTML != "h" || e.CodeHash != "h1" {
			t.Fatalf("email with message %+v %v", e, err)
		}
		// An order without domains, and another account's order.
		if st, err := s.LockOrderState(ctx, alice.ID, 43); err != nil || st.Status != model.OrderCancelled || len(st.Domains) != 0 || st.Live != nil {
			t.Fatalf("order without domains %+v %v", st, err)
		}
		if _, err := s.LockOrderState(ctx, bob.ID, 42); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("another account's order: %v", err)
		}
		// OrderState is the same read without the lock, and OrderStateOf
		// the same whatever the account (the confirmation page).
		if read, err := s.OrderState(ctx, alice.ID, 42); err != nil || fmt.Sprint(read) != fmt.Sprint(st) {
			t.Fatalf("OrderState %+v %v, want %+v", read, err, st)
		}
		if read, err := s.OrderStateOf(ctx, 42); err != nil || fmt.Sprint(read) != fmt.Sprint(st) {
			t.Fatalf("OrderStateOf %+v %v, want %+v", read, err, st)
		}
		for _, n := range []int64{44, 42} {
			if _, err := s.OrderState(ctx, bob.ID, n); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("order %d of another account or none: %v", n, err)
			}
		}
		if _, err := s.OrderStateOf(ctx, 44); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("OrderStateOf of no order: %v", err)
		}
		// The product comes with the order: none for one the operator
		// made, that of its terms for one placed through the API.
		if st.Product != 0 {
			t.Fatalf("product %d of an order the operator made", st.Product)
		}
		if err := s.Tx(ctx, func(tx model.Tx) error { return tx.SetTerms(ctx, 42, model.Terms{Product: 24, UniqueValue: "u42"}) }); err != nil {
			t.Fatal(err)
		}
		if read, err := s.OrderStateOf(ctx, 42); err != nil || read.Product != 24 || len(read.Domains) != 4 {
			t.Fatalf("OrderStateOf after SetTerms: product %d, %d domains (%v), want 24 and 4", read.Product, len(read.Domains), err)
		}
	})
}

// A transaction whose function fails leaves nothing behind.
func TestTxRollsBack(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx model.Tx) error {
			if _, err := tx.CreateAccount(ctx, model.Account{Login: "ghost", PasswordHash: "x", Created: t0}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := s.AccountByLogin(ctx, "ghost"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("rolled-back account exists: %v", err)
		}
	})
}

// Validating with an email covers only the domains whose live email it is.
func TestValidateOnlyLiveDomains(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		old := order(t, s, alice, 1, 1)
		var fresh int64
		err := s.Tx(ctx, func(tx model.Tx) error {
			var err error
			fresh, err = tx.CreateEmail(ctx, model.Email{OrderNumber: 1, Recipient: "webmaster@example.com", CodeHash: "fresh", Subject: "s", Text: "t", Created: t0, Expires: t0.Add(time.Hour)})
			if err != nil {
				return err
			}
			return tx.SetDomainRecipient(ctx, 1, 1, "webmaster@example.com", "constructed", fresh)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.Direct().ValidateDomains(ctx, 1, old, t0); err != nil || n != 0 {
			t.Fatalf("superseded email validated %d (%v)", n, err)
		}
		if n, err := s.Direct().ValidateDomains(ctx, 1, fresh, t0); err != nil || n != 1 {
			t.Fatalf("live email validated %d (%v)", n, err)
		}
		if n, _ := s.Direct().ValidateDomains(ctx, 1, fresh, t0); n != 0 {
			t.Fatal("validated twice")
		}
		// By code: the fields a confirmation judges by, and not the
		// message; with the order's newest email (the epoch of its counts).
		want := model.Email{ID: fresh, OrderNumber: 1, Recipient: "webmaster@example.com", CodeHash: "fresh", Created: t0, Expires: t0.Add(time.Hour)}
		look, err := s.CodeLookup(ctx, 1, "fresh")
		if e := look.Email; err != nil || !look.Exists || look.Epoch != fresh || !e.Created.Equal(want.Created) || !e.Expires.Equal(want.Expires) {
			t.Fatalf("by code: %+v %v", look, err)
		} else if e.Created, e.Expires = want.Created, want.Expires; e != want {
			t.Fatalf("by code: %+v, want %+v", e, want)
		}
		// The superseded email is found by its own code, under the same epoch.
		if look, err := s.CodeLookup(ctx, 1, "hash-1"); err != nil || look.Email.ID != old || look.Email.CodeHash != "hash-1" || look.Epoch != fresh {
			t.Fatalf("by the superseded code: %+v %v, want email %d under epoch %d", look, err, old, fresh)
		}
		// A code of no email of the order, and one of another order.
		if look, err := s.CodeLookup(ctx, 1, "nothing"); err != nil || !look.Exists || look.Epoch != fresh || look.Email.ID != 0 {
			t.Fatalf("unknown code: %+v %v", look, err)
		}
		other := order(t, s, alice, 2, 2)
		if look, err := s.CodeLookup(ctx, 2, "fresh"); err != nil || !look.Exists || look.Epoch != other || look.Email.ID != 0 {
			t.Fatalf("code of another order: %+v %v", look, err)
		}
		// No order: nothing exists, whatever the code.
		if look, err := s.CodeLookup(ctx, 3, "fresh"); err != nil || look != (model.CodeLookup{}) {
			t.Fatalf("no order: %+v %v", look, err)
		}
	})
}

// The outbox claim: 8 workers draining 1,000 deliveries each finish every
// delivery exactly once (README.md, "Several nodes": FOR UPDATE SKIP LOCKED on
// PostgreSQL, the single writer on SQLite).
func TestOutboxClaimsEachDeliveryOnce(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		email := order(t, s, alice, 1, 1)
		err := s.Tx(ctx, func(tx model.Tx) error {
			for i := range 1000 {
				if _, err := tx.Enqueue(ctx, email, "admin@example.com", fmt.Sprintf("m%d@test", i), t0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		finished := map[int64]string{}
		var wg sync.WaitGroup
		for w := range 8 {
			owner := fmt.Sprintf("worker-%d", w)
			wg.Go(func() {
				for {
					batch, err := s.Claim(ctx, owner, t0, time.Minute, 16)
					if err != nil {
						t.Error(err)
						return
					}
					if len(batch) == 0 {
						return
					}
					for _, d := range batch {
						ok, err := s.Direct().FinishAttempt(ctx, owner, model.Attempt{DeliveryID: d.ID, At: t0, Outcome: model.OutcomeSent, Reply: "250 ok"}, t0)
						if err != nil || !ok {
							t.Errorf("finish %d: %v %v", d.ID, ok, err)
						}
						mu.Lock()
						if prev, dup := finished[d.ID]; dup {
							t.Errorf("delivery %d finished by %s and %s", d.ID, prev, owner)
						}
						finished[d.ID] = owner
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(finished) != 1000 {
			t.Fatalf("%d deliveries finished, want 1000", len(finished))
		}
		if n, _ := s.PendingDeliveries(ctx); n != 0 {
			t.Fatalf("%d still pending", n)
		}
	})
}

// A crashed worker's claim comes back after its lease, and the crashed
// worker can no longer record an outcome for it.
func TestOutboxLeaseExpires(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		email := order(t, s, alice, 1, 1)
		if _, err := s.Direct().Enqueue(ctx, email, "admin@example.com", "m@test", t0); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Claim(ctx, "dead", t0, time.Minute, 10)
		if len(got) != 1 || got[0].Subject != "s" || got[0].CodeHash != "hash-1" || got[0].OrderNumber != 1 {
			t.Fatalf("claim: %+v", got)
		}
		if again, _ := s.Claim(ctx, "alive", t0.Add(59*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatal("claimed twice within the lease")
		}
		again, _ := s.Claim(ctx, "alive", t0.Add(time.Minute), time.Minute, 10)
		if len(again) != 1 || again[0].Attempts != 2 {
			t.Fatalf("after the lease: %+v", again)
		}
		if ok, _ := s.Direct().FinishAttempt(ctx, "dead", model.Attempt{DeliveryID: again[0].ID, At: t0, Outcome: model.OutcomeSent}, t0); ok {
			t.Fatal("the old owner recorded an outcome after losing the lease")
		}
		ok, err := s.Direct().FinishAttempt(ctx, "alive", model.Attempt{DeliveryID: again[0].ID, At: t0.Add(time.Minute), Outcome: "retry", Reply: "451 try later"}, t0.Add(5*time.Minute))
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		if early, _ := s.Claim(ctx, "alive", t0.Add(4*time.Minute), time.Minute, 10); len(early) != 0 {
			t.Fatal("retried before its time")
		}
		atts, _ := s.AttemptsOfOrder(ctx, 1)
		if len(atts) != 1 || atts[0].Reply != "451 try later" || atts[0].Worker != "alive" {
			t.Fatalf("attempts: %+v", atts)
		}
	})
}

func TestMailboxCaptureIsIdempotent(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		email := order(t, s, alice, 1, 1)
		id, _ := s.Direct().Enqueue(ctx, email, "admin@example.com", "m@test", t0)
		m := model.CapturedMail{DeliveryID: id, OrderNumber: 1, From: "f@x", To: "admin@example.com", Subject: "s", Text: "t", DCVCode: "C", Raw: "raw", Captured: t0}
		for range 2 {
			if err := s.Capture(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Mailbox(ctx, 0)
		if err != nil || len(got) != 1 || got[0].DCVCode != "C" || !got[0].Captured.Equal(t0) {
			t.Fatalf("%+v %v", got, err)
		}
		if other, _ := s.Mailbox(ctx, 2); len(other) != 0 {
			t.Fatal("order filter")
		}
	})
}

func TestOffersWindowAndSettingsAndTemplates(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := account(t, s, "alice"), account(t, s, "bob")
		err := s.Direct().RecordOffers(ctx, []model.Offer{
			{AccountID: alice.ID, FQDN: "example.com", Mailbox: "admin@example.com", Source: "constructed", ADN: "example.com", At: t0},
			{AccountID: alice.ID, FQDN: "www.example.com", Mailbox: "admin@example.com", Source: "constructed", ADN: "example.com", Product: 24, At: t0.Add(time.Hour)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.OffersOf(ctx, alice.ID, "admin@example.com", t0.Add(time.Minute)); len(got) != 1 || got[0].FQDN != "www.example.com" {
			t.Fatalf("window: %+v", got)
		}
		if got, _ := s.OffersOf(ctx, bob.ID, "admin@example.com", t0); len(got) != 0 {
			t.Fatal("offers leak across accounts")
		}

		v1, _ := s.EnsureSetting(ctx, "k", "first")
		v2, _ := s.EnsureSetting(ctx, "k", "second")
		if v1 != "first" || v2 != "first" {
			t.Fatalf("EnsureSetting: %q %q", v1, v2)
		}
		s.Direct().SetSetting(ctx, "k", "third")
		if v, _ := s.Setting(ctx, "k"); v != "third" {
			t.Fatalf("SetSetting: %q", v)
		}
		if v, err := s.Setting(ctx, "none"); v != "" || err != nil {
			t.Fatalf("missing setting: %q %v", v, err)
		}

		err = s.Tx(ctx, func(tx model.Tx) error {
			if err := tx.PutTemplate(ctx, model.Template{ID: 1, Subject: "open", Text: "t", Created: t0}, nil); err != nil {
				return err
			}
			return tx.PutTemplate(ctx, model.Template{ID: 2, Subject: "bob's", Text: "t", Created: t0}, []int64{bob.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		if tm, err := s.UsableTemplate(ctx, 1, alice.ID); err != nil || tm.Subject != "open" || !tm.OpenToAll {
			t.Fatalf("open template: %+v %v", tm, err)
		}
		if _, err := s.UsableTemplate(ctx, 2, alice.ID); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("granted template for another account: %v", err)
		}
		if _, err := s.UsableTemplate(ctx, 2, bob.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// Store.RecordOffers, which runs without a transaction of its own on
// PostgreSQL when the offers fit one statement, writes all or nothing,
// however many offers there are.
func TestRecordOffersWritesAllOrNothing(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		offers := func(n int, badLast bool) []model.Offer {
			out := make([]model.Offer, n)
			for i := range out {
				out[i] = model.Offer{AccountID: alice.ID, FQDN: "example.com", Mailbox: fmt.Sprintf("m%d@example.com", i),
					Source: "constructed", ADN: "example.com", At: t0}
			}
			if badLast {
				out[n-1].AccountID = alice.ID + 1000 // no such account
			}
			return out
		}
		count := func() int { return storedOffers(t, s) }
		if err := s.RecordOffers(ctx, offers(3, false)); err != nil || count() != 3 {
			t.Fatalf("three offers: %v, %d stored", err, count())
		}
		for _, n := range []int{4, 700} { // one statement; two
			if err := s.RecordOffers(ctx, offers(n, true)); err == nil {
				t.Fatalf("%d offers, one for no account: no error", n)
			}
			if got := count(); got != 3 {
				t.Fatalf("%d offers, one refused: %d stored, want the 3 from before", n, got)
			}
		}
		if err := s.RecordOffers(ctx, offers(700, false)); err != nil || count() != 700 {
			t.Fatalf("700 offers: %v, %d stored", err, count())
		}
	})
}

// Pruning deletes the offers whose hour ended by the cutoff: an offer made
// again within the window is kept, however old its first offer. An offer
// made again keeps the hour of its first (the upsert changes no indexed
// column), and pruning moves it up to the hour of its time once that
// first hour has ended.
func TestPruneOffersByHour(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		offer := func(mailbox string, at time.Time) model.Offer {
			return model.Offer{AccountID: alice.ID, FQDN: "example.com", Mailbox: mailbox, Source: "constructed", ADN: "example.com", At: at}
		}
		// t0 is 12:00. a and b are offered at 12:10, c at 12:50 and 13:20.
		if err := s.RecordOffers(ctx, []model.Offer{offer("a@example.com", t0.Add(10*time.Minute)), offer("b@example.com", t0.Add(10*time.Minute)), offer("c@example.com", t0.Add(50*time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordOffers(ctx, []model.Offer{offer("b@example.com", t0.Add(40*time.Minute)), offer("c@example.com", t0.Add(80*time.Minute))}); err != nil {
			t.Fatal(err)
		}
		hourOfC := func() int64 {
			t.Helper()
			var h int64
			if err := s.QueryRow(ctx, `SELECT offered_hour FROM address_offers WHERE mailbox = 'c@example.com'`, &h); err != nil {
				t.Fatal(err)
			}
			return h - t0.Unix()/3600 // 0 for 12:00
		}
		if h := hourOfC(); h != 0 {
			t.Fatalf("c offered again at 13:20: its hour is %d after 12:00's, want that of its first offer (0)", h)
		}
		left := func() []string {
			t.Helper()
			var out []string
			for _, m := range []string{"a@example.com", "b@example.com", "c@example.com"} {
				got, err := s.OffersOf(ctx, alice.ID, m, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) > 0 {
					out = append(out, m)
				}
			}
			return out
		}
		for _, c := range []struct {
			cutoff  time.Time
			changed int64
			left    string
			hourOfC int64
		}{
			{t0.Add(59 * time.Minute), 0, "[a@example.com b@example.com c@example.com]", 0}, // 12:00's hour has not ended
			{t0.Add(time.Hour), 3, "[c@example.com]", 1},                                    // it has: a and b deleted (b's second offer was 12:40), c moved to 13:00
			{t0.Add(119 * time.Minute), 0, "[c@example.com]", 1},                            // c was offered at 13:20
			{t0.Add(2 * time.Hour), 1, "[]", -1},
		} {
			n, err := s.PruneOffers(ctx, c.cutoff)
			if err != nil || n != c.changed {
				t.Fatalf("prune at %s: %d rows deleted or moved (%v), want %d", c.cutoff.Format("15:04"), n, err, c.changed)
			}
			if got := fmt.Sprint(left()); got != c.left {
				t.Fatalf("after pruning at %s: %s left, want %s", c.cutoff.Format("15:04"), got, c.left)
			}
			if c.hourOfC >= 0 {
				if h := hourOfC(); h != c.hourOfC {
					t.Fatalf("after pruning at %s: c's hour is %d after 12:00's, want %d", c.cutoff.Format("15:04"), h, c.hourOfC)
				}
			}
		}
	})
}

// On PostgreSQL an offer made again is rewritten beside its row, with no
// new index entries (a heap-only update): the pages of offers keep room for
// it (migration 19). Several pages of offers are made, then all of them
// again in one transaction, which reads what PostgreSQL counted for it.
// Without the room, few or none are rewritten in place (none, when tried).
func TestOffersMadeAgainStayOnTheirPage(t *testing.T) {
	onPostgres(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		alice := account(t, s, "alice")
		const n = 400 // several pages
		offers := func(at time.Time) []model.Offer {
			out := make([]model.Offer, n)
			for i := range out {
				out[i] = model.Offer{AccountID: alice.ID, FQDN: "example.com", Mailbox: fmt.Sprintf("m%03d@example.com", i), Source: "constructed", ADN: "example.com", At: at}
			}
			return out
		}
		if err := s.RecordOffers(ctx, offers(t0)); err != nil {
			t.Fatal(err)
		}
		var updated, inPlace int64
		err := s.Tx(ctx, func(mtx model.Tx) error {
			tx := mtx.(*store.Tx)
			if err := tx.RecordOffers(ctx, offers(t0.Add(time.Minute))); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'address_offers'`, &updated); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'address_offers'`, &inPlace)
		})
		if err != nil {
			t.Fatal(err)
		}
		if updated != n || inPlace < n*9/10 {
			t.Fatalf("%d offers made again: %d rows updated, %d of them in place; want %d, at least 90 %% in place", n, updated, inPlace, n)
		}
		if err := s.MigrateTo(ctx, 18); err != nil {
			t.Fatal(err)
		}
		var options sql.NullString
		if err := s.QueryRow(ctx, `SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'address_offers'`, &options); err != nil || options.Valid {
			t.Fatalf("after migration 19's Down, the offers' options are %v (%v), want none", options, err)
		}
	})
}

// Pruning finds a full batch of offers to move up as well as to delete,
// and says so, so that the service prunes again at once.
func TestPruneOffersInBatches(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		offers := func(n int, at time.Time) []model.Offer {
			out := make([]model.Offer, n)
			for i := range out {
				out[i] = model.Offer{AccountID: alice.ID, FQDN: "example.com", Mailbox: fmt.Sprintf("m%d@example.com", i), Source: "constructed", ADN: "example.com", At: at}
			}
			return out
		}
		// 1,500 offered at 12:10, and the first 1,200 of them again at
		// 13:10: at a cutoff of 13:00, 1,200 rows to move and 300 to delete.
		if err := s.RecordOffers(ctx, offers(1500, t0.Add(10*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordOffers(ctx, offers(1200, t0.Add(70*time.Minute))); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, want := range []int64{1300, 200, 0} {
			n, err := s.PruneOffers(ctx, t0.Add(time.Hour))
			if err != nil || n != want {
				t.Fatalf("prune: %d rows deleted or moved (%v), want %d", n, err, want)
			}
			total += n
		}
		n, err := s.CountOffers(ctx)
		if err != nil || n != 1200 || total != 1500 {
			t.Fatalf("%d offers left after %d rows deleted or moved, want 1,200 after 1,500", n, total)
		}
	})
}

// PostgreSQL finds an order's newest email (CodeLookup, every POST of the
// page) at the end of the index by order and id (migration 00017), not by
// reading the primary key backwards through every newer email of other
// orders, which it chose with the index by order alone on tables not yet
// analysed, as these are. (SQLite's index by order always held the rowid.)
func TestCodeLookupReadsTheOrdersIndex(t *testing.T) {
	onPostgres(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := account(t, s, "alice")
		if err := s.Exec(ctx, `INSERT INTO orders (order_number, account_id, base_order_number, status, created_ms)
			SELECT g, $1, g, 'active', 0 FROM generate_series(1, 5000) g`, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Exec(ctx, `INSERT INTO dcv_emails (order_number, recipient, code_hash, created_ms, expires_ms)
			SELECT g, 'admin@example.com', 'h' || g, 0, 0 FROM generate_series(1, 5000) g`); err != nil {
			t.Fatal(err)
		}
		var plan string
		if err := s.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+store.CodeLookupSQL, &plan, 17, "h17"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, `"dcv_emails_order_id"`) || strings.Contains(plan, `"dcv_emails_pkey"`) || strings.Contains(plan, `"Seq Scan"`) {
			t.Fatalf("CodeLookup's plan does not go by order and id:\n%s", plan)
		}
		if look, err := s.CodeLookup(ctx, 17, "h17"); err != nil || !look.Exists || look.Epoch != 17 || look.Email.ID != 17 {
			t.Fatalf("CodeLookup(17) = %+v, %v; want the order's one email, 17, found by its code", look, err)
		}
	})
}

// A request given up while PostgreSQL makes it wait for a row lock (its
// client gone, or its deadline passed) returns at once and stops waiting on
// the server too: no backend is left waiting for the lock until the other
// transaction ends.
func TestCancelEndsLockWait(t *testing.T) {
	onPostgres(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const key = "source:192.0.2.44"
		count := func(ctx context.Context, tx model.Tx) error {
			_, err := tx.CountCodeAttempts(ctx, []model.CodeSubject{{Subject: key}}, t0, t0.Add(-time.Hour))
			return err
		}
		holding, release := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			held <- s.Tx(ctx, func(tx model.Tx) error {
				if err := count(ctx, tx); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		defer func() {
			close(release)
			if err := <-held; err != nil {
				t.Error(err)
			}
		}()
		waiting := func() int {
			t.Helper()
			var n int
			if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// until polls cond every 20 ms for at most 5 s.
		until := func(cond func() bool) bool {
			for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					return false
				}
			}
			return true
		}
		gaveUp, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Tx(gaveUp, func(tx model.Tx) error { return count(gaveUp, tx) }) }()
		if !until(func() bool { return waiting() == 1 }) {
			t.Fatal("the second count never waited for the lock")
		}
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("a count behind a held lock succeeded before the lock was released")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the cancelled count still waits for the lock")
		}
		if !until(func() bool { return waiting() == 0 }) {
			t.Fatal("the cancelled statement still waits for the lock on the server")
		}
	})
}

// A flood of transactions on one key (the page's POSTs from one source,
// Store.TxFor) leaves the pool's connections to everyone else on
// PostgreSQL: they wait for their turn without a connection, where before
// each waited on the key's row lock holding one. All of them still run.
// (SQLite's group commit holds no connection per waiter.)
func TestTxForLeavesConnectionsToOthers(t *testing.T) {
	onPostgres(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const key = "source:192.0.2.1"
		count := func(tx model.Tx) error {
			_, err := countOne(ctx, tx, model.CodeSubject{Subject: key}, t0, t0.Add(-time.Hour))
			return err
		}
		holding, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.TxFor(ctx, key, func(tx model.Tx) error {
				if err := count(tx); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
		<-holding
		const flood = 64 // twice the pool
		for range flood {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.TxFor(ctx, key, count); err != nil {
					t.Error(err)
				}
			}()
		}
		for deadline := time.Now().Add(5 * time.Second); s.KeyUsers(key) < flood+1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		probe, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.CountOffers(probe)
		cancel()
		close(release)
		wg.Wait()
		if err != nil {
			t.Fatalf("another caller's read while one key's %d transactions wait: %v", flood, err)
		}
		if got, err := s.CodeAttemptsOf(ctx, key); err != nil || got.Failures != flood+1 {
			t.Fatalf("count %d (%v), want %d: every transaction ran", got.Failures, err, flood+1)
		}
		if n := s.KeysWaiting(); n != 0 {
			t.Fatalf("%d keys left waiting", n)
		}
	})
}

// Taking an order number or a certificate ID waits for no other
// transaction: on PostgreSQL they come from sequences (migration 18), where
// the counters' row was locked until the commit of the order that took it,
// so that every order placement waited for the one before. Reset starts
// both again on both databases.
func TestNumbersWaitForNoTransaction(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		take := func(tx model.Tx) (order, cert int64, err error) { return takeNumbers(ctx, tx) }
		var first [2]int64
		if s.Dialect() == "postgres" {
			holding, release := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- s.Tx(ctx, func(tx model.Tx) (err error) {
					first[0], first[1], err = take(tx)
					close(holding)
					<-release
					return err
				})
			}()
			<-holding
			var o, c int64
			err := s.Tx(ctx, func(tx model.Tx) (err error) {
				// A wait on a lock fails after 3 s rather than hanging the test.
				var was string
				if err := tx.(*store.Tx).QueryRow(ctx, `SELECT set_config('lock_timeout', '3s', true)`, &was); err != nil {
					return err
				}
				o, c, err = take(tx)
				return err
			})
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err != nil {
				t.Fatalf("numbers while another order's transaction is open: %v", err)
			}
			if o != first[0]+1 || c != first[1]+1 {
				t.Fatalf("numbers %d, %d after %v", o, c, first)
			}
		}
		if err := s.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		var o, c int64
		if err := s.Tx(ctx, func(tx model.Tx) (err error) { o, c, err = take(tx); return err }); err != nil {
			t.Fatal(err)
		}
		if o != 10000001 || c != 100000001 {
			t.Fatalf("after reset: %d, %d, want 10000001, 100000001", o, c)
		}
	})
}

// Address lists that record their offers at the same time all get them
// stored, and one call's bad offers fail that call alone. On PostgreSQL
// the calls queued behind a running upsert are written by one statement
// (offerbatch.go), here all of them, which keeps each row's newest offer.
func TestConcurrentOffers(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		// run records one call's offers (two addresses of name) per account
		// given, all at once, and returns their errors.
		run := func(name func(i int) string, accounts []int64) []error {
			t.Helper()
			queued, release := func() int { return len(accounts) }, func() {}
			if s.Dialect() == "postgres" {
				queued, release = s.HoldOffers()
			}
			errs := make([]error, len(accounts))
			var wg sync.WaitGroup
			for i, acc := range accounts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					at := t0.Add(time.Duration(i) * time.Second)
					errs[i] = s.RecordOffers(ctx, []model.Offer{
						{AccountID: acc, FQDN: name(i), Mailbox: "admin@example.com", Source: "constructed", ADN: "example.com", Product: int64(i), At: at},
						{AccountID: acc, FQDN: name(i), Mailbox: "webmaster@example.com", Source: "constructed", ADN: "example.com", Product: int64(i), At: at},
					})
				}()
			}
			for deadline := time.Now().Add(10 * time.Second); queued() < len(accounts) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			release()
			wg.Wait()
			return errs
		}
		stored := func() int { return storedOffers(t, s) }

		// Forty calls over four names.
		accounts := make([]int64, 40)
		for i := range accounts {
			accounts[i] = alice.ID
		}
		for i, err := range run(func(i int) string { return fmt.Sprintf("n%d.example.com", i%4) }, accounts) {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if n := stored(); n != 8 {
			t.Fatalf("%d offers stored, want 8: four names, two addresses", n)
		}
		if s.Dialect() == "postgres" { // one batch: each row has its newest offer, call 36+k's
			for k := range 4 {
				var product int64
				if err := s.QueryRow(ctx, `SELECT MIN(product) FROM address_offers WHERE fqdn = $1`, &product, fmt.Sprintf("n%d.example.com", k)); err != nil || product != int64(36+k) {
					t.Fatalf("n%d.example.com holds call %d's offers (%v), want call %d's", k, product, err, 36+k)
				}
			}
		}

		// Ten calls, one of them for no account: it fails alone.
		accounts = accounts[:10]
		accounts[7] = alice.ID + 1000
		errs := run(func(i int) string { return fmt.Sprintf("m%d.example.com", i) }, accounts)
		for i, err := range errs {
			if (err != nil) != (i == 7) {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if n := stored(); n != 8+18 {
			t.Fatalf("%d offers stored, want 26: the 8 from before, two for each of nine calls", n)
		}
	})
}

// Several nodes may start at once: concurrent migrations all succeed.
func TestConcurrentMigrate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() {
					s, err := store.Open(context.Background(), url)
					if err != nil {
						errs <- err
						return
					}
					defer s.Close()
					errs <- s.Migrate(context.Background())
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// OrderDeliveries (GetMDCDomainDetails): the order's domains, in order;
// an email never queued is absent; a queued one is Queued with no
// attempt; its last send time is the newest of its deliveries'; its last
// attempt is the newest of all its deliveries', an older delivery's later
// retry included; other emails' deliveries do not mix in. Another
// account's order is not found, and an order without domains has none.
func TestOrderDeliveries(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice, bob := account(t, s, "alice"), account(t, s, "bob")
		email, other := order(t, s, alice, 1, 1), order(t, s, alice, 2, 2)
		domains, got, err := s.OrderDeliveries(ctx, alice.ID, 1)
		if err != nil || len(got) != 0 || len(domains) != 1 || domains[0].Name != "example.com" || domains[0].CurrentEmailID != email {
			t.Fatalf("nothing queued: %+v %+v %v", domains, got, err)
		}
		if _, _, err := s.OrderDeliveries(ctx, bob.ID, 1); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("another account's order: %v", err)
		}
		if _, _, err := s.OrderDeliveries(ctx, alice.ID, 99); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("no such order: %v", err)
		}
		if err := s.Tx(ctx, func(tx model.Tx) error {
			return tx.CreateOrder(ctx, model.Order{Number: 3, AccountID: alice.ID, BaseNumber: 3, Status: model.OrderActive, Created: t0}, nil)
		}); err != nil {
			t.Fatal(err)
		}
		if domains, got, err := s.OrderDeliveries(ctx, alice.ID, 3); err != nil || len(domains) != 0 || len(got) != 0 {
			t.Fatalf("order without domains: %+v %+v %v", domains, got, err)
		}
		enqueue := func(id int64, msg string) int64 {
			t.Helper()
			d, err := s.Direct().Enqueue(ctx, id, "admin@example.com", msg, t0)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		// attempt claims the one delivery due at at, which must be want.
		attempt := func(want int64, at time.Time, outcome model.Outcome, reply string) {
			t.Helper()
			batch, err := s.Claim(ctx, "w", at, time.Minute, 1)
			if err != nil || len(batch) != 1 || batch[0].ID != want {
				t.Fatalf("claim at %s: %+v %v, want delivery %d", at, batch, err, want)
			}
			if ok, err := s.Direct().FinishAttempt(ctx, "w", model.Attempt{DeliveryID: want, At: at, Outcome: outcome, Reply: reply}, at.Add(time.Hour)); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		first := enqueue(email, "m1@test")
		if got, err := sendings(ctx, s, alice, 1); err != nil || !got[email].Queued || got[email].Last.DeliveryID != 0 || !got[email].LastSent.IsZero() {
			t.Fatalf("queued, never tried: %+v %v", got, err)
		}
		attempt(first, t0, model.OutcomeRetry, "451 first")
		second := enqueue(email, "m2@test")
		attempt(second, t0.Add(time.Second), model.OutcomeSent, "250 second")
		attempt(first, t0.Add(time.Hour), model.OutcomeRetry, "451 again") // the older delivery's retry, after the newer one was sent
		third := enqueue(other, "m3@test")
		attempt(third, t0.Add(time.Hour+time.Second), model.OutcomeFailed, "550 other")
		got, err = sendings(ctx, s, alice, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		e := got[email]
		if !e.Queued || !e.LastSent.Equal(t0.Add(time.Second)) || e.Last.DeliveryID != first || e.Last.Outcome != model.OutcomeRetry || e.Last.Reply != "451 again" {
			t.Fatalf("email: %+v", e)
		}
		if o := got[other]; !o.Queued || !o.LastSent.IsZero() || o.Last.DeliveryID != third || o.Last.Outcome != model.OutcomeFailed || o.Last.Reply != "550 other" {
			t.Fatalf("other email: %+v", o)
		}
	})
}

var fullScan = regexp.MustCompile(`(?m)(^SCAN (outbox|a)\b|Seq Scan on (outbox|delivery_attempts)\b)`)

// OrderDeliveries probes the outbox and the attempts by index, whatever
// their size: the plan never scans either table.
func TestOrderDeliveriesPlan(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		for n := int64(1); n <= 20; n++ {
			order(t, s, alice, n, n) // and its email
		}
		// Tables never analysed (as right after a restore, or in the
		// bench), with the outbox several times the attempts, as after
		// resends: PostgreSQL, guessing a hundred outbox rows per email,
		// hashed the whole attempts table on every call when they were a
		// plain join (dialect.newestAttempt).
		for _, bulk := range []string{
			`INSERT INTO orders (order_number, account_id, base_order_number, status, created_ms)
			 SELECT i, $1, i, 'active', 0 FROM g`,
			`INSERT INTO order_domains (order_number, position, domain_name, fqdn, dcv_method)
			 SELECT i, 1, 'example.com', 'example.com', 'EMAIL' FROM g`,
			`INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms)
			 SELECT (SELECT MIN(id) FROM dcv_emails) + i % 20, 'admin@example.com', 'm' || i, 'sent', 0, 0 FROM g`,
			`INSERT INTO delivery_attempts (outbox_id, attempted_ms, outcome, reply, worker)
			 SELECT (SELECT MIN(id) FROM outbox), i, 'retry', '451', 'w' FROM g WHERE i < 10000`,
		} {
			args := []any{}
			if strings.Contains(bulk, "$1") {
				args = append(args, alice.ID)
			}
			if err := s.Exec(ctx, `WITH RECURSIVE g(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM g WHERE i < 45000) `+bulk, args...); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := s.Plan(ctx, s.OrderDeliveriesSQL(), 7)
		if err != nil {
			t.Fatal(err)
		}
		// A whole table read: SQLite's "SCAN outbox" (or of a, the
		// attempts), PostgreSQL's "Seq Scan on outbox".
		if fullScan.MatchString(plan) {
			t.Fatalf("OrderDeliveries reads a whole table:\n%s", plan)
		}
	})
}

// The CRL's read of the revoked certificates reads their partial index,
// not every certificate issued (BENCHMARKS.md, "Seventeenth round").
func TestRevokedCertificatesPlan(t *testing.T) {
	each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alice := account(t, s, "alice")
		order(t, s, alice, 1, 1)
		// 20,000 certificates issued, one in a hundred revoked.
		if err := s.Exec(ctx, `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20000)
			INSERT INTO certificates (certificate_id, order_number, state, csr, names, serial, der, revoked_ms, revocation_reason, created_ms)
			SELECT i, 1, 'issued', 'csr', 'example.com', 'a' || i, 'der', CASE WHEN i % 100 = 0 THEN i END, CASE WHEN i % 100 = 0 THEN 4 END, 0 FROM g`); err != nil {
			t.Fatal(err)
		}
		// PostgreSQL without statistics guesses that nearly every row has a
		// revocation time, and reads them all; autovacuum analyses a table
		// once a tenth of it has changed.
		if s.Dialect() == "postgres" {
			if err := s.Exec(ctx, `ANALYZE certificates`); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := s.Plan(ctx, store.RevokedSQL)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "certificates_revoked_serial") {
			t.Fatalf("the revoked certificates are not read from their index:\n%s", plan)
		}
		revoked, err := s.RevokedCertificates(ctx)
		if err != nil || len(revoked) != 200 || revoked[0].Serial != "a100" || revoked[0].Reason != 4 {
			t.Fatalf("%d revoked, first %+v, %v; want 200 from a100 (in serial order, as text)", len(revoked), revoked[:min(1, len(revoked))], err)
		}
	})
}

// sendings merges the delivery summaries of the given orders of acct.
func sendings(ctx context.Context, s *store.Store, acct model.Account, numbers ...int64) (map[int64]model.Sendings, error) {
	all := map[int64]model.Sendings{}
	for _, n := range numbers {
		_, got, err := s.OrderDeliveries(ctx, acct.ID, n)
		if err != nil {
			return nil, err
		}
		maps.Copy(all, got)
	}
	return all, nil
}
