package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// A code-shaped value (26 characters of A-Z and 2-7) and text that must not
// be found in clear once the store seals messages.
const (
	sealCode   = "SEALEDCODESEALEDCODESEALED"
	clearMark  = "OLDCLEARMESSAGEMARK"
	sealMarker = "plain words of the sealed message"
)

// newEmail creates an order with one domain and an email to it, with the
// given message, and returns the email's id.
func newEmail(t *testing.T, s *store.Store, a model.Account, number int64, subject, text string, expires time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.Tx(ctx, func(tx model.Tx) error {
		o := model.Order{Number: number, AccountID: a.ID, BaseNumber: number, Status: model.OrderActive, Created: t0}
		if err := tx.CreateOrder(ctx, o, []model.Domain{{Position: 1, Name: "example.com", FQDN: "example.com", Method: model.MethodEmail}}); err != nil {
			return err
		}
		var err error
		id, err = tx.CreateEmail(ctx, model.Email{OrderNumber: number, Recipient: "admin@example.com", CodeHash: "hash-" + strconv.FormatInt(number, 10),
			Subject: subject, Text: text, HTML: "<p>" + text + "</p>", Created: t0, Expires: expires})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rawBody reads a stored message as it lies in the table.
func rawBody(t *testing.T, s *store.Store, id int64) string {
	t.Helper()
	var subject, text, html string
	for col, dst := range map[string]*string{"subject": &subject, "text_body": &text, "html_body": &html} {
		if err := s.QueryRow(context.Background(), `SELECT `+col+` FROM dcv_email_bodies WHERE email_id = $1`, dst, id); err != nil {
			t.Fatal(err)
		}
	}
	return subject + "\n" + text + "\n" + html
}

// issue 16 item 5: with a message key, a DCV email's message is sealed
// before it is written: the row holds neither the code nor the text, the
// worker's Claim and Email read it back whole, another key or none is
// refused, and the clear messages of live emails from before are sealed by
// SealClearBodies (expired ones are left as they are).
func TestMessageKeySealsBodies(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			url := b.url(t)
			s := open(t, url)
			a := account(t, s, "alice")
			dir := t.TempDir()
			file := filepath.Join(dir, "message.key")

			// Without the file and without create: no key, messages in clear.
			if created, err := s.UseMessageKey(ctx, file, false); err != nil || created {
				t.Fatalf("no key yet: %v %v", created, err)
			}
			old := newEmail(t, s, a, 10000001, "old "+clearMark, clearMark+" text", t0.Add(time.Hour))
			expired := newEmail(t, s, a, 10000002, "expired", "expired "+clearMark, t0.Add(time.Minute))
			if !strings.Contains(rawBody(t, s, old), clearMark) {
				t.Fatal("without a key the message should be stored as it is")
			}

			created, err := s.UseMessageKey(ctx, file, true)
			if err != nil || !created {
				t.Fatalf("create the key: %v %v", created, err)
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", fi.Mode(), err)
			}
			subject := "Your code " + sealCode
			text := sealMarker + "\ncode: " + sealCode + "\nhttps://dcv.example/products/EnterDCVCode2?orderNumber=10000003&dcvCode=" + sealCode
			id := newEmail(t, s, a, 10000003, subject, text, t0.Add(time.Hour))
			raw := rawBody(t, s, id)
			if strings.Contains(raw, sealCode) || strings.Contains(raw, sealMarker) {
				t.Fatalf("the sealed row holds the message in clear:\n%s", raw)
			}
			if !strings.HasPrefix(raw, "Your code [code]\nv1:") {
				t.Fatalf("sealed row: %q", raw)
			}
			if e, err := s.Email(ctx, id); err != nil || e.Subject != subject || e.Text != text || e.HTML != "<p>"+text+"</p>" {
				t.Fatalf("read back with the key: %+v %v", e, err)
			}
			if _, err := s.Direct().Enqueue(ctx, id, "admin@example.com", "m1@x", t0); err != nil {
				t.Fatal(err)
			}
			if ds, err := s.Claim(ctx, "w", t0, time.Minute, 10); err != nil || len(ds) != 1 || ds[0].Text != text || ds[0].Subject != subject || ds[0].Unreadable != nil {
				t.Fatalf("claim: %+v %v", ds, err)
			}

			// The clear message of the live email is sealed; the expired one is left.
			if n, err := s.SealClearBodies(ctx, t0.Add(10*time.Minute)); err != nil || n != 1 {
				t.Fatalf("seal clear bodies: %d %v", n, err)
			}
			if raw := rawBody(t, s, old); strings.Contains(raw, clearMark+" text") {
				t.Fatalf("the old live message is still in clear:\n%s", raw)
			}
			if e, err := s.Email(ctx, old); err != nil || e.Text != clearMark+" text" || e.Subject != "old "+clearMark {
				t.Fatalf("old message after sealing: %+v %v", e, err)
			}
			if e, err := s.Email(ctx, expired); err != nil || e.Text != "expired "+clearMark {
				t.Fatalf("expired message: %+v %v", e, err)
			}
			if b.name == "sqlite" {
				assertNotInFiles(t, strings.TrimPrefix(url, "sqlite://"), sealCode, sealMarker, clearMark+" text")
			}

			// Another process on the same database: without the file, or with
			// another key, it refuses; without create, it reads what it can.
			other, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			missing := filepath.Join(dir, "none.key")
			if _, err := other.UseMessageKey(ctx, missing, true); err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "--message-key-file") {
				t.Fatalf("missing key: %v", err)
			}
			if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused start made a key file: %v", err)
			}
			wrong := filepath.Join(dir, "wrong.key")
			os.WriteFile(wrong, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
			if _, err := other.UseMessageKey(ctx, wrong, true); err == nil || !strings.Contains(err.Error(), "every node must use the same key file") {
				t.Fatalf("wrong key: %v", err)
			}
			if e, err := other.Email(ctx, id); err != nil || e.Subject != "Your code [code]" || e.Text != "" {
				t.Fatalf("read without the key: %+v %v", e, err)
			}
			if _, err := other.Direct().Enqueue(ctx, id, "admin@example.com", "m2@x", t0); err != nil {
				t.Fatal(err)
			}
			ds, err := other.Claim(ctx, "w2", t0, time.Minute, 10)
			if err != nil || len(ds) != 1 || !errors.Is(ds[0].Unreadable, store.ErrNoMessageKey) {
				t.Fatalf("claim without the key: %+v %v", ds, err)
			}
			// The right key, named by path, opens everything again.
			if created, err := other.UseMessageKey(ctx, file, true); err != nil || created {
				t.Fatalf("same key: %v %v", created, err)
			}
			if e, err := other.Email(ctx, id); err != nil || e.Text != text {
				t.Fatalf("read with the key: %+v %v", e, err)
			}
		})
	}
}

// assertNotInFiles fails when a SQLite database file or its WAL holds any
// of the strings.
func assertNotInFiles(t *testing.T, path string, secrets ...string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", filepath.Base(p), s)
			}
		}
	}
}
