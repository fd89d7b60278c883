package accounts

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
)

// TestCreateAndUpdateApplyTheRules: the rules every creator of accounts
// shares (CLI, --demo, bench, test helpers), against a real SQLite store.
func TestCreateAndUpdateApplyTheRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(t.TempDir(), "a.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, bad := range []NewAccount{
		{Login: "", Password: "pw"},
		{Login: "has space", Password: "pw"},
		{Login: "ctl\x01", Password: "pw"},
		{Login: strings.Repeat("x", 65), Password: "pw"},
		{Login: "alice", Password: ""},
		{Login: "alice", Password: strings.Repeat("p", 129)},
	} {
		if err := Create(ctx, st, bad, now); err == nil {
			t.Errorf("Create(%q, %d-character password) succeeded, want refused", bad.Login, len(bad.Password))
		}
	}
	if exists, err := Exists(ctx, st, "alice"); err != nil || exists {
		t.Fatalf("refused creations left an account: exists=%v err=%v", exists, err)
	}
	if err := Create(ctx, st, NewAccount{Login: "alice", Password: "old-pass", Disabled: true}, now); err != nil {
		t.Fatal(err)
	}
	a, err := st.AccountByLogin(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Disabled || a.ReadOnly || !a.Created.Equal(now) || !verified(t, a.PasswordHash, "old-pass") {
		t.Fatalf("created %+v: want disabled, not read-only, created %v, hash of old-pass", a, now)
	}
	if err := Create(ctx, st, NewAccount{Login: "alice", Password: "other"}, now); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	pw, no, yes := "new-pass", false, true
	if err := Update(ctx, st, "alice", Change{Password: &pw, Disabled: &no, ReadOnly: &yes}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := st.AccountByLogin(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Disabled || !got.ReadOnly || !verified(t, got.PasswordHash, "new-pass") || !got.Updated.Equal(now.Add(time.Hour)) {
		t.Fatalf("after Update: %+v", got)
	}
	empty := ""
	if err := Update(ctx, st, "alice", Change{Password: &empty}, now); err == nil {
		t.Error("Update to an empty password succeeded")
	}
	if err := Update(ctx, st, "bob", Change{ReadOnly: &yes}, now); !errors.Is(err, ErrNoAccount) {
		t.Errorf("Update of a missing account: %v, want ErrNoAccount", err)
	}
}

func verified(t *testing.T, hash, password string) bool {
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
