package dcv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/ca"
	"github.com/dcvmail/dcvmail/internal/catalog"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// watchedStore counts the transactions open on it.
type watchedStore struct {
	*store.Store
	open atomic.Int32
}

func (w *watchedStore) Tx(ctx context.Context, fn func(model.Tx) error) error {
	w.open.Add(1)
	defer w.open.Add(-1)
	return w.Store.Tx(ctx, fn)
}

func (w *watchedStore) TxFor(ctx context.Context, key string, fn func(model.Tx) error) error {
	w.open.Add(1)
	defer w.open.Add(-1)
	return w.Store.TxFor(ctx, key, fn)
}

// caClock is the test CA's clock, which it reads to sign a certificate:
// it counts the readings made while a transaction of the store was open.
type caClock struct {
	store          *watchedStore
	readings, inTx atomic.Int32
}

func (c *caClock) Now() time.Time {
	c.readings.Add(1)
	if c.store.open.Load() > 0 {
		c.inTx.Add(1)
	}
	return clock.System.Now()
}

// TestSigningIsOutsideTransactions: a certificate is signed before the
// transaction that claims it. Signing and linting take milliseconds of
// CPU, and on SQLite a transaction runs in the one writer's turn, which
// every other write of the service waits for (BENCHMARKS.md, tenth round).
// The CA reads its clock to sign; no reading may fall inside a transaction.
func TestSigningIsOutsideTransactions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(t.TempDir(), "issue.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	w := &watchedStore{Store: st}
	svc, err := dcv.New(ctx, dcv.Config{Store: w, Finder: contacts.NewFinder(contacts.Config{}), PublicURL: "https://localhost:8443"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &caClock{store: w}
	cfg := ca.URLs("http://localhost:8080")
	cfg.Clock = clk
	authority, err := ca.Open(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.EnableOrders(dcv.OrdersConfig{Catalog: catalog.Builtin(), CA: authority, Log: slog.New(slog.DiscardHandler)})
	acct, err := st.Direct().CreateAccount(ctx, model.Account{Login: "alice", PasswordHash: "x", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "shop.example.com"}}, key)
	csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	res, err := svc.Apply(ctx, dcv.ApplyRequest{Account: acct, Product: 287, CSR: csrPEM, Method: "HTTP_CSR_HASH"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := st.OrderStateOf(ctx, res.OrderNumber)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range o.Domains {
		if err := st.Direct().ValidateDomainNow(ctx, res.OrderNumber, d.Position, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	clk.readings.Store(0)
	if ok, err := svc.TryIssue(ctx, res.OrderNumber); err != nil || !ok {
		t.Fatalf("issued %v, %v", ok, err)
	}
	if clk.readings.Load() == 0 {
		t.Fatal("the CA did not read its clock to sign: this test no longer sees the signing")
	}
	if n := clk.inTx.Load(); n > 0 {
		t.Errorf("the CA read its clock %d times inside a transaction: the certificate was signed in it", n)
	}
}
