// Package app is dcvmail's one assembly: it opens and migrates the store,
// settles the settings that decide DCV outcomes (recorded by `serve` in the
// database, read back by everyone else), and builds the DCV service with
// its policy, timeline, DNS contact finder and clock. `serve`
// (internal/server), every admin command (internal/cli), `dcvmail bench`
// and the test helpers (internal/dcvtest) open the domain through Open, so
// that they all apply the same rules.
package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Config says how to open the application. Every field but DatabaseURL may
// be left zero.
//
// Settings: with Record (what `serve` does), Settings are the rules to
// apply and they are recorded in the database for everyone else. Without
// Record (admin commands, tests), the recorded settings apply (the
// defaults when no `serve` ever ran), and the override fields below,
// when set, replace one part of them for this process only: an admin
// command's explicit flag wins over the server's setting (docs/cli.md).
type Config struct {
	DatabaseURL string
	Clock       clock.Clock // default clock.System
	Random      io.Reader   // default crypto/rand.Reader
	Log         *slog.Logger

	// Record stores Settings as the ones in force (serve).
	Record   bool
	Settings Settings

	// Overrides of the recorded settings (without Record).
	Policy    dcv.Policy // zero: the recorded policy
	PublicURL string     // "": the recorded one
	MailFrom  string     // "": the recorded one
	// Resolvers, when not nil, replace the recorded DNS resolvers; an
	// empty non-nil list turns DNS contacts off.
	Resolvers []string

	// Finder replaces the DNS contact finder the settings describe (tests).
	Finder dcv.AddressFinder

	// MessageKeyFile is the key that seals DCV messages in the database
	// (store/sealing.go). SendsMail says that the process writes or sends
	// DCV emails: it then creates the key if the database has none, and
	// refuses to open without the right one. Otherwise the key is used
	// when it is there, and a missing or wrong one is no error.
	MessageKeyFile string
	SendsMail      bool
}

// App is the opened domain: the store, the DCV service, and the settings it
// applies.
type App struct {
	Store    *store.Store
	DCV      *dcv.Service
	Log      *slog.Logger
	Settings Settings // the settings in force in this process
	// RequireAD tells whether DNS contacts need DNSSEC-validated answers,
	// decided from Settings.DNS.RequireAD and the timeline when opened.
	RequireAD bool
	// Finder is the DNS contact finder built from the settings (nil when
	// Config.Finder replaced it); the test CA checks CAA through it.
	Finder *contacts.Finder
	// Clock is the clock every rule reads: Config.Clock, or for an admin
	// command the offset clock the test controls move.
	Clock clock.Clock

	wake func()
}

// Open opens and migrates the database, settles the settings and builds the
// DCV service.
func Open(ctx context.Context, cfg Config) (*App, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	a, err := build(ctx, st, cfg)
	if err == nil {
		err = useMessageKey(ctx, st, cfg, a.Log)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func build(ctx context.Context, st *store.Store, cfg Config) (*App, error) {
	a := &App{Store: st, Log: cfg.Log, wake: func() {}}
	if a.Log == nil {
		a.Log = slog.Default()
	}
	clk := cfg.Clock
	if clk == nil {
		// Admin commands read the test clock's offset as serve does
		// (docs/control.md, "The clock").
		off := clock.NewOffset(clock.System, 0)
		if err := off.Attach(ctx, st.ClockOffset); err != nil {
			return nil, err
		}
		clk = off
	}
	a.Clock = clk
	var err error
	if a.Settings, err = settle(ctx, st, cfg, a.Log); err != nil {
		return nil, err
	}
	s := a.Settings
	if a.RequireAD, err = RequireAD(s.DNS.RequireAD, s.Timeline, clk.Now()); err != nil {
		return nil, err
	}
	finder := cfg.Finder
	if finder == nil {
		a.Finder = contacts.NewFinder(contacts.Config{Resolvers: s.DNS.Resolvers, Quorum: s.DNS.Quorum, RequireAD: a.RequireAD, Timeout: s.DNS.Timeout})
		finder = a.Finder
	}
	a.DCV, err = dcv.New(ctx, dcv.Config{
		Store:     st,
		Clock:     clk,
		Random:    cfg.Random,
		Policy:    s.Policy,
		Finder:    finder,
		PublicURL: s.PublicURL,
		MailFrom:  s.MailFrom,
		Enqueued:  func() { a.wake() },
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// settle decides the settings in force: the given ones, recorded (serve),
// or the recorded ones with this process's overrides.
func settle(ctx context.Context, st *store.Store, cfg Config, log *slog.Logger) (Settings, error) {
	recorded, was, err := LoadSettings(ctx, st)
	if err != nil && !cfg.Record {
		return Settings{}, err
	}
	if cfg.Record {
		if err != nil {
			log.Warn("the recorded settings are unreadable; this start's replace them", "err", err)
		}
		s := cfg.Settings
		if err := s.Policy.Check(); err != nil {
			return Settings{}, err
		}
		if was && !same(recorded, s) {
			// Several nodes on one database should run with one set of
			// rules: the last node started decides for admin commands.
			log.Warn("the settings recorded by an earlier start differ from this one's; this start's are now in force for admin commands")
		}
		return s, SaveSettings(ctx, st, s)
	}
	s := recorded
	if cfg.Policy != (dcv.Policy{}) {
		s.Policy = cfg.Policy
	}
	if cfg.PublicURL != "" {
		s.PublicURL = cfg.PublicURL
	}
	if cfg.MailFrom != "" {
		s.MailFrom = cfg.MailFrom
	}
	if cfg.Resolvers != nil {
		s.DNS.Resolvers = cfg.Resolvers
	}
	return s, nil
}

// SetEnqueued sets what is called after a commit that put mail in the
// outbox (the local worker's Wake).
func (a *App) SetEnqueued(f func()) { a.wake = f }

// Close closes the database.
func (a *App) Close() error { return a.Store.Close() }
