// Package config is the one table of dcvmail's command-line flags and their
// environment variables: every flag NAME also reads DCVMAIL_NAME (upper
// case, '-' as '_'), and a flag given on the command line wins.
package config

import (
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/admission"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/connlimit"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/delivery"
	"github.com/dcvmail/dcvmail/internal/health"
	"github.com/dcvmail/dcvmail/internal/mail"
)

// Common are the flags of every command that opens the database.
type Common struct {
	Data string
	DB   string
	// MessageKeyFile seals DCV messages in the database ("" is
	// message.key in Data; SECURITY.md, "Codes at rest").
	MessageKeyFile string
}

// BindCommon registers --data and --db.
func BindCommon(fs *flag.FlagSet, c *Common) {
	fs.StringVar(&c.Data, "data", "./dcvmail-data", "state directory: the SQLite database, the generated TLS certificate and the message key")
	fs.StringVar(&c.DB, "db", "", "database URL: sqlite://FILE or postgres://... (default sqlite://<data>/dcvmail.db)")
	fs.StringVar(&c.MessageKeyFile, "message-key-file", "", "key that seals DCV messages in the database, made on first start; every node needs the same file, and so does a restore (default <data>/message.key)")
}

// MessageKeyPath is --message-key-file, or message.key in --data.
func (c Common) MessageKeyPath() string {
	if c.MessageKeyFile != "" {
		return c.MessageKeyFile
	}
	return filepath.Join(c.Data, "message.key")
}

// DatabaseURL is --db, or the SQLite file in --data.
func (c Common) DatabaseURL() string {
	if c.DB != "" {
		return c.DB
	}
	return "sqlite://" + filepath.ToSlash(filepath.Join(c.Data, "dcvmail.db"))
}

// Serve is the configuration of `dcvmail serve`.
type Serve struct {
	Common
	Listen         string
	HTTPListen     string
	AdminListen    string
	TLSCert        string
	TLSKey         string
	SMTP           string
	MailFrom       string
	PublicURL      string
	DNSResolvers   List
	DNSQuorum      int
	DNSRequireAD   string
	DNSTimeout     time.Duration
	PolicyFile     string
	TrustedProxies List
	Demo           bool
	TestControls   bool // the admin listener's test controls (docs/control.md); implied by Demo
	CodeValidity   time.Duration
	ResendBurst    int
	ResendInterval time.Duration
	LogFormat      string
	Mail           Mail
	Limits         Limits
	Ops            Ops
	Guard          Guard
	Orders         Orders
}

// Ops are the operations flags (docs/operations.md): readiness thresholds
// and the names of the generated certificate.
type Ops struct {
	ReadyMaxOutboxAge time.Duration // /readyz fails when the oldest undelivered message is older
	ReadySMTPWindow   time.Duration // /readyz fails when deliveries failed and none succeeded within it
	TLSHosts          List          // extra names and addresses of the generated self-signed certificate
}

// Guard is the configuration of the defences added for issue 16: who may
// call the admin listener, and where --demo may run (SECURITY.md).
type Guard struct {
	AdminTokenFile string // file holding the admin listener's bearer token
	// AdminToken is the token itself, from DCVMAIL_ADMIN_TOKEN (never a
	// flag: a command line is visible to every local user). The file wins.
	AdminToken string
	AdminHosts List // further names the admin listener answers to
	DemoUnsafe bool // allow --demo with --smtp or a non-loopback --listen
}

// Limits are the defences against password guessing and floods
// (SECURITY.md). A zero field takes the default, which matters only to
// configurations built by hand (tests): the flags carry the defaults.
type Limits struct {
	LoginFailures   int           // failed logins of one login name that lock it
	SourceFailures  int           // failed logins from one source address that lock it
	LockoutWindow   time.Duration // the window in which failures are counted
	LockoutDuration time.Duration // how long a lock lasts
	RequestRate     float64       // API requests per second per account on each node; negative: no limit
	RequestBurst    int           // API requests an account may make at once
	// WriteBacklogLimit is how long the oldest waiting write may have
	// waited before calls that write are refused (admission.Gate); 0:
	// never refused (unlike the fields above, zero is not the default).
	WriteBacklogLimit time.Duration
	// GlobalLoginFailures are failed logins of one login name from all
	// sources that lock it for sources it has not logged in from.
	GlobalLoginFailures int
	KnownSourceAge      time.Duration // how long a successful login keeps its source known
	// MaxConnections bounds the connections open on the public listeners
	// together (connlimit); 0: three quarters of the open-file limit;
	// negative: no bound.
	MaxConnections int
	// MaxConnectionsPerSource bounds one source's; 0: the default;
	// negative: no bound.
	MaxConnectionsPerSource int
	// ConnectionRatePerSource bounds the connections one source opens a
	// second; 0: the default; negative: no bound.
	ConnectionRatePerSource float64
}

// Mail is the delivery configuration of `dcvmail serve` (docs/mail.md).
type Mail struct {
	SMTPCA          string
	SMTPConnections int
	SMTPTimeout     time.Duration
	SMTPHELO        string
	MaxAge          time.Duration
	RetryBase       time.Duration
	RetryMax        time.Duration
	Lease           time.Duration
	DKIMKey         string
	DKIMSelector    string
	DKIMDomain      string
}

// BindServe registers the flags of `dcvmail serve` (docs/cli.md). Each
// default is declared once, by the package that owns the setting (the
// policy's in dcv, delivery's in mail, the lockout's in accounts...): the
// table reads it there, so the two cannot drift.
func BindServe(fs *flag.FlagSet, c *Serve) {
	BindCommon(fs, &c.Common)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8443", "HTTPS address of the API and the confirmation page")
	fs.StringVar(&c.HTTPListen, "http-listen", "", "plain-HTTP address (off by default); API calls on it get errorCode -1")
	fs.StringVar(&c.AdminListen, "admin-listen", "", "address of the operator endpoints: /healthz, /mailbox (off by default; never public)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); without it a self-signed one is made once in --data")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.SMTP, "smtp", "", "SMTP submission URL, smtp://user:pass@host:587 or smtps://...; without it mail goes to the built-in mailbox")
	fs.StringVar(&c.MailFrom, "mail-from", mail.DefaultFrom, "From address of DCV emails")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL of the confirmation page in emails (default https://<listen>)")
	fs.Var(&c.DNSResolvers, "dns-resolver", "host:port of a resolver for DNS contact lookups; repeat for perspectives; \"none\" turns DNS contacts off (default: the system's)")
	fs.IntVar(&c.DNSQuorum, "dns-quorum", 0, "how many resolvers must see a DNS contact (0: the BR 3.2.2.9 default for their number)")
	fs.StringVar(&c.DNSRequireAD, "dns-require-ad", app.DefaultDNSRequireAD, "accept only DNSSEC-validated (AD bit) answers for DNS contacts: true, false, or auto (true once the policy's dnssec-contacts rule is in force, 2026-03-15)")
	fs.StringVar(&c.PolicyFile, "policy-file", "", "JSON file that moves or adds dated CA/Browser Forum rules (docs/policy.md)")
	fs.DurationVar(&c.DNSTimeout, "dns-timeout", contacts.DefaultTimeout, "timeout of one DNS query")
	fs.Var(&c.TrustedProxies, "trusted-proxy", "CIDR of a proxy whose X-Forwarded-Proto and X-Forwarded-For are believed, and whose connections only --max-connections bounds; repeatable")
	fs.BoolVar(&c.Demo, "demo", false, "seed the demo account and order on start (idempotent); implies --test-controls")
	fs.BoolVar(&c.TestControls, "test-controls", false, "serve the test controls on --admin-listen: reset, clock, fault rules, marking domains validated (never in production)")
	fs.DurationVar(&c.CodeValidity, "code-validity", dcv.DefaultPolicy.CodeValidity, "how long a random value confirms (at most 720h, BR 3.2.2.4)")
	fs.IntVar(&c.ResendBurst, "resend-burst", dcv.DefaultPolicy.ResendBurst, "resends per order allowed at once")
	fs.DurationVar(&c.ResendInterval, "resend-interval", dcv.DefaultPolicy.ResendInterval, "one more resend per order is allowed after each interval")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	bindOrders(fs, &c.Orders)
	m := &c.Mail
	fs.StringVar(&m.SMTPCA, "smtp-ca", "", "PEM file of CA certificates trusted for the SMTP server, besides the system's")
	fs.IntVar(&m.SMTPConnections, "smtp-connections", delivery.DefaultSMTPConnections, "SMTP connections open at once (messages in flight)")
	fs.DurationVar(&m.SMTPTimeout, "smtp-timeout", delivery.DefaultSMTPTimeout, "timeout of each SMTP step (connect, one command, the message data)")
	fs.StringVar(&m.SMTPHELO, "smtp-helo", "", "name to greet the SMTP server with (default: the host name)")
	fs.DurationVar(&m.MaxAge, "mail-max-age", delivery.DefaultMaxAge, "retry temporary delivery failures until a message is this old, then give up")
	fs.DurationVar(&m.RetryBase, "mail-retry-base", delivery.DefaultRetryBase, "delay before the first retry of a delivery; it doubles with each retry, up to --mail-retry-max")
	fs.DurationVar(&m.RetryMax, "mail-retry-max", delivery.DefaultRetryMax, "longest delay between two retries of a delivery")
	fs.DurationVar(&m.Lease, "mail-lease", delivery.DefaultLease, "how long a worker holds messages it took; a crashed worker's messages are resent after it")
	fs.StringVar(&m.DKIMKey, "dkim-key", "", "PEM private key (RSA or Ed25519) to DKIM-sign outgoing mail with (off by default)")
	fs.StringVar(&m.DKIMSelector, "dkim-selector", "", "DKIM selector: the key is published at <selector>._domainkey.<domain>")
	fs.StringVar(&m.DKIMDomain, "dkim-domain", "", "DKIM signing domain (default: the domain of --mail-from)")
	l := &c.Limits
	fs.IntVar(&l.LoginFailures, "lockout-login-failures", accounts.DefaultLockoutPolicy.LoginFailures, "failed logins of one login name within --lockout-window that lock it")
	fs.IntVar(&l.SourceFailures, "lockout-source-failures", accounts.DefaultLockoutPolicy.SourceFailures, "failed logins from one source address (IPv4, or IPv6 /64) within --lockout-window that lock it")
	fs.DurationVar(&l.LockoutWindow, "lockout-window", accounts.DefaultLockoutPolicy.Window, "window in which failed logins are counted")
	fs.DurationVar(&l.LockoutDuration, "lockout-duration", accounts.DefaultLockoutPolicy.Duration, "how long a locked login name or source address is refused, even with the right password")
	fs.Float64Var(&l.RequestRate, "request-rate", api.DefaultRequestRate, "API requests per second per account on each node, after a burst of --request-burst (negative: no limit)")
	fs.IntVar(&l.RequestBurst, "request-burst", api.DefaultRequestBurst, "API requests an account may make at once on each node")
	fs.IntVar(&l.MaxConnections, "max-connections", 0, "connections the public listeners hold open at once; past it, a source holding more than the newcomer's gives up one not serving a request, or the newcomer is closed (0: three quarters of the open-file limit; negative: no bound)")
	fs.IntVar(&l.MaxConnectionsPerSource, "max-connections-per-source", connlimit.DefaultPerSource, "connections one source address (IPv4, or IPv6 /64) may hold open on the public listeners; more are closed as they arrive; --trusted-proxy addresses, 127.0.0.1 and ::1 are exempt (negative: no bound)")
	fs.Float64Var(&l.ConnectionRatePerSource, "connection-rate-per-source", connlimit.DefaultRate, "new connections one source address may open per second on the public listeners, after a burst of ten seconds' worth; more are closed as they arrive, before TLS; --trusted-proxy addresses, 127.0.0.1 and ::1 are exempt (negative: no bound)")
	fs.DurationVar(&l.WriteBacklogLimit, "write-backlog-limit", admission.DefaultLimit, "refuse API calls that write, and page POSTs, at once (-14, Retry-After) while the oldest write waiting for the database has waited longer than this (0: never)")
	o := &c.Ops
	fs.DurationVar(&o.ReadyMaxOutboxAge, "ready-max-outbox-age", health.DefaultMaxOutboxAge, "/readyz answers 503 while the oldest undelivered message is older than this")
	fs.DurationVar(&o.ReadySMTPWindow, "ready-smtp-window", health.DefaultSMTPWindow, "/readyz answers 503 when deliveries failed within this window and none succeeded")
	fs.Var(&o.TLSHosts, "tls-hosts", "names and IP addresses the generated self-signed certificate covers besides localhost, 127.0.0.1 and ::1 (comma-separated or repeated)")
	bindGuard(fs, c)
}

// DefaultServe is the configuration of `dcvmail serve` given no flags: the
// defaults of the flag table (test helpers start from it).
func DefaultServe() Serve {
	var c Serve
	BindServe(flag.NewFlagSet("serve", flag.ContinueOnError), &c)
	return c
}

// bindGuard registers the flags of issue 16's defences, in one block.
func bindGuard(fs *flag.FlagSet, c *Serve) {
	l, g := &c.Limits, &c.Guard
	fs.IntVar(&l.GlobalLoginFailures, "lockout-global-login-failures", accounts.DefaultLockoutPolicy.GlobalLoginFailures, "failed logins of one login name from all sources within --lockout-window that lock it for every source it has not logged in from")
	fs.DurationVar(&l.KnownSourceAge, "lockout-known-source-age", accounts.DefaultLockoutPolicy.KnownSourceAge, "how long a successful login keeps its source address exempt from source and global locks")
	fs.StringVar(&g.AdminTokenFile, "admin-token-file", "", "file holding the bearer token the admin listener requires (DCVMAIL_ADMIN_TOKEN holds the token itself); required unless --admin-listen is loopback")
	fs.Var(&g.AdminHosts, "admin-host", "a further Host name the admin listener answers to (besides its address and localhost); repeatable")
	fs.BoolVar(&g.DemoUnsafe, "demo-unsafe", false, "allow --demo, whose account has a published password, with --smtp or a non-loopback --listen")
}

// Proxies parses --trusted-proxy values.
func (c Serve) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: want a CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// List is a repeatable string flag; from the environment it takes a
// comma-separated list.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }

// Set adds one value.
func (l *List) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// EnvName is the environment variable of a flag.
func EnvName(flagName string) string {
	return "DCVMAIL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args and then, for every flag not given on the command line,
// takes its environment variable when set.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(EnvName(f.Name))
		if given[f.Name] || v == "" || err != nil {
			return
		}
		values := []string{v}
		if _, repeat := f.Value.(*List); repeat {
			values = strings.Split(v, ",")
		}
		for _, one := range values {
			if e := fs.Set(f.Name, strings.TrimSpace(one)); e != nil {
				err = fmt.Errorf("%s: %w", EnvName(f.Name), e)
			}
		}
	})
	return err
}
