package config

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/health"
	"github.com/dcvmail/dcvmail/internal/mail"
)

// issue 13 §1: the defaults of serve's flags are the owners' (declared
// once, where the setting is owned), and docs/cli.md states the same.
func TestServeDefaultsAreTheOwners(t *testing.T) {
	t.Parallel()
	c := DefaultServe()
	lp := accounts.DefaultLockoutPolicy
	for _, tt := range []struct {
		flag      string
		got, want any
	}{
		{"code-validity", c.CodeValidity, dcv.DefaultPolicy.CodeValidity},
		{"resend-burst", c.ResendBurst, dcv.DefaultPolicy.ResendBurst},
		{"resend-interval", c.ResendInterval, dcv.DefaultPolicy.ResendInterval},
		{"mail-from", c.MailFrom, mail.DefaultFrom},
		{"smtp-connections", c.Mail.SMTPConnections, delivery.DefaultSMTPConnections},
		{"smtp-timeout", c.Mail.SMTPTimeout, delivery.DefaultSMTPTimeout},
		{"mail-max-age", c.Mail.MaxAge, delivery.DefaultMaxAge},
		{"mail-retry-base", c.Mail.RetryBase, delivery.DefaultRetryBase},
		{"mail-retry-max", c.Mail.RetryMax, delivery.DefaultRetryMax},
		{"mail-lease", c.Mail.Lease, delivery.DefaultLease},
		{"dns-timeout", c.DNSTimeout, contacts.DefaultTimeout},
		{"dns-require-ad", c.DNSRequireAD, app.DefaultDNSRequireAD},
		{"lockout-login-failures", c.Limits.LoginFailures, lp.LoginFailures},
		{"lockout-source-failures", c.Limits.SourceFailures, lp.SourceFailures},
		{"lockout-global-login-failures", c.Limits.GlobalLoginFailures, lp.GlobalLoginFailures},
		{"lockout-known-source-age", c.Limits.KnownSourceAge, lp.KnownSourceAge},
		{"lockout-window", c.Limits.LockoutWindow, lp.Window},
		{"lockout-duration", c.Limits.LockoutDuration, lp.Duration},
		{"request-rate", c.Limits.RequestRate, api.DefaultRequestRate},
		{"request-burst", c.Limits.RequestBurst, api.DefaultRequestBurst},
		{"ready-max-outbox-age", c.Ops.ReadyMaxOutboxAge, health.DefaultMaxOutboxAge},
		{"ready-smtp-window", c.Ops.ReadySMTPWindow, health.DefaultSMTPWindow},
	} {
		if tt.got != tt.want {
			t.Errorf("--%s defaults to %v, its owner's default is %v", tt.flag, tt.got, tt.want)
		}
	}
}

// The defaults docs/cli.md gives (a table's second column, or "(4)" after a
// flag) are the flags' own.
func TestDocumentedDefaults(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c Serve
	BindServe(fs, &c)
	documented := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z-]+)[^`|]*` \\| ([^|]*) \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
	}
	for _, m := range regexp.MustCompile("`--([a-z-]+)[^`]*` \\(([^)]+)\\)").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = m[2]
	}
	checked := 0
	for name, want := range documented {
		f := fs.Lookup(name)
		if f == nil || f.DefValue == "" || f.DefValue == "false" || f.DefValue == "[]" {
			continue // another command's flag, or one off by default
		}
		want, _, _ = strings.Cut(want, " ") // "696h (29 days)"
		if d, err := time.ParseDuration(f.DefValue); err == nil {
			if w, err := time.ParseDuration(want); err != nil || w != d {
				t.Errorf("docs/cli.md: --%s defaults to %q, the flag to %v", name, want, d)
			}
		} else if want != f.DefValue {
			t.Errorf("docs/cli.md: --%s defaults to %q, the flag to %q", name, want, f.DefValue)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("checked the defaults of %d flags in docs/cli.md, want 20 or more (did its tables change form?)", checked)
	}
}
