package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/pgtest"
	"github.com/dcvmail/dcvmail/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, cfg Config) *App {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// Before any serve: the defaults. After a serve recorded its settings:
// every other opener applies them, and a flag of its own (an override)
// wins for that process only.
func TestSettingsRecordedByServeApplyToEveryone(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		settingsApplyToEveryone(t, store.SQLiteURL(filepath.Join(t.TempDir(), "d.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		settingsApplyToEveryone(t, pgtest.URL(t))
	})
}

func settingsApplyToEveryone(t *testing.T, db string) {
	if got := open(t, Config{DatabaseURL: db}); got.DCV.Policy() != dcv.DefaultPolicy ||
		got.Settings.PublicURL != DefaultPublicURL || got.Settings.MailFrom != mail.DefaultFrom || len(got.Settings.DNS.Resolvers) != 0 {
		t.Fatalf("before any serve: %+v", got.Settings)
	}
	timeline, err := dcv.LoadTimeline("")
	if err != nil {
		t.Fatal(err)
	}
	timeline[0].From = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) // as a --policy-file would move it
	served := Settings{
		PublicURL: "https://dcv.example.com",
		MailFrom:  "DCV <dcv@example.com>",
		Policy:    dcv.Policy{CodeValidity: 72 * time.Hour, ResendBurst: 2, ResendInterval: time.Hour, OfferWindow: 24 * time.Hour},
		Timeline:  timeline,
		DNS:       DNS{Resolvers: []string{"192.0.2.53:53"}, Quorum: 1, RequireAD: "false", Timeout: time.Second},
	}
	open(t, Config{DatabaseURL: db, Record: true, Settings: served}).Close()

	admin := open(t, Config{DatabaseURL: db})
	if !same(admin.Settings, served) || admin.DCV.Policy() != served.Policy || admin.RequireAD ||
		admin.DCV.PageURL() != "https://dcv.example.com"+dcv.PagePath {
		t.Fatalf("an admin command applies %+v, want the served %+v", admin.Settings, served)
	}
	over := open(t, Config{DatabaseURL: db, Resolvers: []string{}, Policy: dcv.DefaultPolicy})
	if len(over.Settings.DNS.Resolvers) != 0 || over.DCV.Policy() != dcv.DefaultPolicy || over.Settings.PublicURL != served.PublicURL {
		t.Fatalf("overrides: %+v", over.Settings)
	}
	if again := open(t, Config{DatabaseURL: db}); !same(again.Settings, served) {
		t.Fatalf("an override was recorded: %+v", again.Settings)
	}

	bad := served
	bad.Policy.CodeValidity = 31 * 24 * time.Hour
	if _, err := Open(context.Background(), Config{DatabaseURL: db, Record: true, Settings: bad}); err == nil {
		t.Fatal("a serve with a code validity over 30 days was opened")
	}
	if again := open(t, Config{DatabaseURL: db}); !same(again.Settings, served) {
		t.Fatalf("a refused policy was recorded: %+v", again.Settings)
	}

	// Unreadable recorded settings: an admin command refuses to guess; the
	// next serve replaces them.
	if err := open(t, Config{DatabaseURL: db}).Store.Direct().SetSetting(context.Background(), settingRules, "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Config{DatabaseURL: db}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("open with unreadable settings: %v, want refused as malformed", err)
	}
	open(t, Config{DatabaseURL: db, Record: true, Settings: served}).Close()
	if got := open(t, Config{DatabaseURL: db}); !same(got.Settings, served) {
		t.Fatalf("after serve replaced unreadable settings: %+v", got.Settings)
	}
}

// dcv.PutTemplate owns the rules of templates: an id of 1 or more, a body
// that renders, grants to accounts that exist; a refusal changes nothing.
func TestPutTemplateRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := open(t, Config{DatabaseURL: store.SQLiteURL(filepath.Join(t.TempDir(), "d.db"))})
	if err := accounts.Create(ctx, a.Store, accounts.NewAccount{Login: "ann", Password: "pw-of-ann"}, a.DCV.Now()); err != nil {
		t.Fatal(err)
	}
	ann, err := a.Store.AccountByLogin(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	good := mail.Template{Subject: "Confirm {{index .Domains 0}}", Text: "Enter {{.Code}} at {{.PageURL}}."}
	var unknown *dcv.UnknownLoginError
	for _, tt := range []struct {
		id     int64
		t      mail.Template
		logins []string
		check  func(error) bool
	}{
		{0, good, nil, func(err error) bool { return err != nil && strings.Contains(err.Error(), "1 or more") }},
		{7, mail.Template{Subject: "x", Text: "{{.Password}}"}, nil, func(err error) bool { return err != nil }},
		{7, good, []string{"ann", "nobody"}, func(err error) bool { return errors.As(err, &unknown) && unknown.Login == "nobody" }},
	} {
		if err := a.DCV.PutTemplate(ctx, tt.id, tt.t, tt.logins); !tt.check(err) {
			t.Errorf("PutTemplate(%d, %+v, %v): %v", tt.id, tt.t, tt.logins, err)
		}
	}
	if _, err := a.Store.UsableTemplate(ctx, 7, ann.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a refused template was stored: %v", err)
	}
	if err := a.DCV.PutTemplate(ctx, 7, good, []string{"ann"}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Store.UsableTemplate(ctx, 7, ann.ID); err != nil || got.Subject != good.Subject || got.OpenToAll {
		t.Fatalf("stored: %+v, %v", got, err)
	}
}
