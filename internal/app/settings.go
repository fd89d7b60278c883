package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
)

// Settings are what decide DCV outcomes: the links and sender of emails,
// the policy (how long a random value confirms, the resend limit, the offer
// window), the dated rules of the timeline (--policy-file) and the DNS
// contact lookups. `serve` records the ones it runs with in the database;
// an admin command run beside it, or another node's admin command, reads
// them back, so every part applies the same rules (docs/architecture.md).
type Settings struct {
	PublicURL string
	MailFrom  string
	Policy    dcv.Policy
	Timeline  []dcv.Rule
	DNS       DNS
}

// DNS are the settings of DNS contact lookups.
type DNS struct {
	// Resolvers are host:port addresses; none turns DNS contacts off
	// (constructed addresses only).
	Resolvers []string      `json:"resolvers"`
	Quorum    int           `json:"quorum"`    // 0: the BR 3.2.2.9 default for their number
	RequireAD string        `json:"requireAD"` // "true", "false" or "auto" (see RequireAD)
	Timeout   time.Duration `json:"timeout"`
}

// Defaults of the settings, used until a `serve` records its own. The
// flags of `serve` (internal/config) read these, and the policy's and the
// DNS timeout's owners' defaults.
const (
	DefaultPublicURL    = "https://localhost:8443"
	DefaultDNSRequireAD = "auto"
)

// DefaultSettings are the settings in force before any `serve` ran on a
// database: the owners' defaults, the built-in timeline, and no DNS
// contacts (an admin command never asked the system's resolvers).
func DefaultSettings() Settings {
	return Settings{
		PublicURL: DefaultPublicURL,
		MailFrom:  mail.DefaultFrom,
		Policy:    dcv.DefaultPolicy,
		Timeline:  slices.Clone(dcv.Timeline),
		DNS:       DNS{RequireAD: DefaultDNSRequireAD, Timeout: contacts.DefaultTimeout},
	}
}

// The names of the settings rows. public_url and mail_from predate the
// others and keep their rows; the rest are one JSON document, so that a
// reader never sees half of a change.
const (
	settingPublicURL = "public_url"
	settingMailFrom  = "mail_from"
	settingRules     = "dcv_rules"
)

// rulesDoc is the stored form of the policy, the timeline and DNS.
type rulesDoc struct {
	CodeValidity   time.Duration `json:"codeValidity"`
	ResendBurst    int           `json:"resendBurst"`
	ResendInterval time.Duration `json:"resendInterval"`
	OfferWindow    time.Duration `json:"offerWindow"`
	Timeline       []dcv.Rule    `json:"timeline"`
	DNS            DNS           `json:"dns"`
}

// LoadSettings reads the settings `serve` recorded; recorded is false (and
// the settings are the defaults) when none did.
func LoadSettings(ctx context.Context, st *store.Store) (s Settings, recorded bool, err error) {
	s = DefaultSettings()
	if v, err := st.Setting(ctx, settingPublicURL); err != nil {
		return s, false, err
	} else if v != "" {
		s.PublicURL = v
	}
	if v, err := st.Setting(ctx, settingMailFrom); err != nil {
		return s, false, err
	} else if v != "" {
		s.MailFrom = v
	}
	v, err := st.Setting(ctx, settingRules)
	if err != nil || v == "" {
		return s, false, err
	}
	var d rulesDoc
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return s, false, fmt.Errorf("the recorded settings (%s) are malformed: %w", settingRules, err)
	}
	s.Policy = dcv.Policy{CodeValidity: d.CodeValidity, ResendBurst: d.ResendBurst, ResendInterval: d.ResendInterval, OfferWindow: d.OfferWindow}
	s.Timeline, s.DNS = d.Timeline, d.DNS
	return s, true, nil
}

func (s Settings) doc() ([]byte, error) {
	return json.Marshal(rulesDoc{
		CodeValidity: s.Policy.CodeValidity, ResendBurst: s.Policy.ResendBurst,
		ResendInterval: s.Policy.ResendInterval, OfferWindow: s.Policy.OfferWindow,
		Timeline: s.Timeline, DNS: s.DNS,
	})
}

// same tells whether two settings record alike.
func same(a, b Settings) bool {
	da, errA := a.doc()
	db, errB := b.doc()
	return errA == nil && errB == nil && string(da) == string(db) && a.PublicURL == b.PublicURL && a.MailFrom == b.MailFrom
}

// SaveSettings records s, in one transaction.
func SaveSettings(ctx context.Context, st *store.Store, s Settings) error {
	doc, err := s.doc()
	if err != nil {
		return err
	}
	return st.Tx(ctx, func(tx model.Tx) error {
		for _, kv := range [][2]string{{settingPublicURL, s.PublicURL}, {settingMailFrom, s.MailFrom}, {settingRules, string(doc)}} {
			if err := tx.SetSetting(ctx, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// RequireAD reads --dns-require-ad: "true", "false", or "auto", which
// requires DNSSEC-validated answers once the timeline's dnssec-contacts rule
// is in force.
func RequireAD(mode string, timeline []dcv.Rule, now time.Time) (bool, error) {
	switch mode {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return dcv.InForce(timeline, "dnssec-contacts", now), nil
	}
	return false, fmt.Errorf("--dns-require-ad %q: want true, false or auto", mode)
}
