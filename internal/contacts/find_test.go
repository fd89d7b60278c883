package contacts

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/contacts/dnstest"
	"github.com/miekg/dns"
)

// finder returns a Finder asking the given test servers.
func finder(cfg Config, servers ...*dnstest.Server) *Finder {
	for _, s := range servers {
		cfg.Resolvers = append(cfg.Resolvers, s.Addr())
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return NewFinder(cfg)
}

// find runs Find and checks what holds for every list.
func find(t *testing.T, f *Finder, fqdn string) List {
	t.Helper()
	l, err := f.Find(context.Background(), fqdn)
	if err != nil {
		t.Fatalf("Find(%q): %v", fqdn, err)
	}
	for _, w := range l.Warnings {
		if strings.ContainsAny(w, "+%&=\r\n") || len(w) > 200 {
			t.Errorf("bad warning %q", w)
		}
	}
	return l
}

func mailboxes(addrs []Address) []string {
	out := []string{}
	for _, a := range addrs {
		out = append(out, a.Mailbox)
	}
	return out
}

func txtRR(adn, value string) string {
	return TXTPrefix + "." + adn + ". TXT " + value
}

// BR 3.2.2.9: with no resolver there is nothing to corroborate and no DNS
// lookup at all; the list is the constructed addresses alone.
func TestNoResolversConstructedOnly(t *testing.T) {
	l := find(t, NewFinder(Config{}), "a.b.example.com")
	want, _ := ConstructedAddresses("a.b.example.com")
	if !slices.Equal(l.Constructed, want) || l.TXT != nil || l.CAA != nil || l.Warnings != nil {
		t.Fatalf("got %+v", l)
	}
	if l.Domain != "a.b.example.com" || len(l.All()) != 15 {
		t.Fatalf("got %+v", l)
	}
}

// BR 3.2.2.4.14: a TXT record at _validation-contactemail.<ADN> for every
// ADN; results in ADN order from the Base Domain Name up, then record order,
// without duplicates.
func TestBR322414TXTContactPerADN(t *testing.T) {
	srv := dnstest.Start(t,
		txtRR("a.b.example.com", `"leaf@example.net"`),
		txtRR("example.com", `"base2@example.net"`),
		txtRR("example.com", `"base1@example.net"`),
		txtRR("b.example.com", `"mid@example.net"`),
		txtRR("b.example.com", `"base1@example.net"`), // duplicate, kept at example.com
		txtRR("com", `"tld@example.net"`),             // not an ADN
		txtRR("example.com.example.org", `"x@example.net"`),
	)
	l := find(t, finder(Config{}, srv), "a.b.example.com")
	want := []Address{
		{Mailbox: "base2@example.net", Source: DNSTXT, ADN: "example.com"},
		{Mailbox: "base1@example.net", Source: DNSTXT, ADN: "example.com"},
		{Mailbox: "mid@example.net", Source: DNSTXT, ADN: "b.example.com"},
		{Mailbox: "leaf@example.net", Source: DNSTXT, ADN: "a.b.example.com"},
	}
	if !slices.Equal(l.TXT, want) {
		t.Errorf("TXT = %+v\nwant %+v", l.TXT, want)
	}
	if l.Warnings != nil || l.CAA != nil {
		t.Errorf("warnings %q, CAA %+v", l.Warnings, l.CAA)
	}
	for _, q := range srv.Queries() {
		if !q.RD {
			t.Errorf("query %+v without RD", q)
		}
	}
}

// BR 3.2.2.4.14 and docs/rules.md: the whole RDATA must be one bare valid
// address; padding, display names and several addresses are ignored.
func TestBR322414TXTNotBareAddressIgnored(t *testing.T) {
	tests := []struct{ rdata, want string }{
		{`"dns@example.net"`, "dns@example.net"},
		{`"dns@" "example.net"`, "dns@example.net"}, // one record, two character-strings
		{`"DNS@Example.NET"`, "DNS@example.net"},
		{`"dns@bücher.example"`, ""}, // non-ASCII in the RDATA: not a host name
		{`" dns@example.net"`, ""},
		{`"dns@example.net "`, ""},
		{`"dns@example.net" " "`, ""},
		{`"DNS Team <dns@example.net>"`, ""},
		{`"<dns@example.net>"`, ""},
		{`"a@example.net, b@example.net"`, ""},
		{`"a@example.net b@example.net"`, ""},
		{`"mailto:dns@example.net"`, ""},
		{`"dns@example.net\013\010"`, ""},
		{`"dns@example.net\000"`, ""},
		{`"v=spf1 -all"`, ""},
		{`""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rdata, func(t *testing.T) {
			srv := dnstest.Start(t, txtRR("example.com", tt.rdata))
			l := find(t, finder(Config{}, srv), "example.com")
			want := []string{}
			if tt.want != "" {
				want = []string{tt.want}
			}
			if got := mailboxes(l.TXT); !slices.Equal(got, want) || l.Warnings != nil {
				t.Errorf("TXT = %q (warnings %q), want %q", got, l.Warnings, want)
			}
		})
	}
}

// BR 3.2.2.4.13 with RFC 8659 section 3: the relevant CAA record set is the
// first non-empty one climbing from the FQDN towards the root (root
// excluded); climbing stops there even if it has no contactemail.
func TestBR322413CAAClimbStopsAtFirstNonEmptySet(t *testing.T) {
	tests := []struct {
		name    string
		records []string
		want    []string
	}{
		{"found at base domain", []string{
			`example.com. CAA 0 contactemail "caa@example.net"`,
		}, []string{"caa@example.net"}},
		{"found at fqdn, parent ignored", []string{
			`a.b.example.com. CAA 0 contactemail "leaf@example.net"`,
			`example.com. CAA 0 contactemail "base@example.net"`,
		}, []string{"leaf@example.net"}},
		{"issue-only set below stops the climb", []string{
			`b.example.com. CAA 0 issue "ca.example"`,
			`example.com. CAA 0 contactemail "base@example.net"`,
		}, nil},
		{"climb reaches the TLD", []string{
			`com. CAA 0 contactemail "tld@example.net"`,
		}, []string{"tld@example.net"}},
		{"tag is case-insensitive, record order kept", []string{
			`b.example.com. CAA 0 issue "ca.example"`,
			`b.example.com. CAA 0 ContactEmail "two@example.net"`,
			`b.example.com. CAA 0 contactemail "one@example.net"`,
			`b.example.com. CAA 0 contactemail "two@example.net"`,
		}, []string{"two@example.net", "one@example.net"}},
		{"contactphone and iodef are not contacts", []string{
			`example.com. CAA 0 contactphone "+1 555 0100"`,
			`example.com. CAA 0 iodef "mailto:sec@example.net"`,
		}, nil},
		{"value not a bare address ignored", []string{
			`example.com. CAA 0 contactemail "Sec <sec@example.net>"`,
			`example.com. CAA 0 contactemail "a@example.net, b@example.net"`,
			`example.com. CAA 0 contactemail " pad@example.net"`,
			`example.com. CAA 0 contactemail "ok@example.net"`,
		}, []string{"ok@example.net"}},
		{"no CAA anywhere", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.Start(t, tt.records...)
			srv.Add(`a.b.example.com. A 192.0.2.1`)
			l := find(t, finder(Config{}, srv), "a.b.example.com")
			if got := mailboxes(l.CAA); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("CAA = %q, want %q", got, tt.want)
			}
			for _, a := range l.CAA {
				if a.ADN != "a.b.example.com" || a.Source != DNSCAA {
					t.Errorf("CAA address %+v: ADN must be the FQDN", a)
				}
			}
			if l.Warnings != nil {
				t.Errorf("warnings %q", l.Warnings)
			}
		})
	}
}

// BR 3.2.2.4.13 with RFC 8659 section 3: CAA(X) is found by ordinary
// resolution, CNAMEs included, whether the resolver follows the chain or
// answers with the CNAME alone. A CNAME to a name without CAA is an empty
// set, and the climb goes on from X's parent (not the target's).
func TestBR322413CAAViaCNAME(t *testing.T) {
	for _, chase := range []bool{true, false} {
		srv := dnstest.Start(t,
			`a.b.example.com. CNAME alias.example.org.`,
			`alias.example.org. CNAME target.example.net.`,
			`target.example.net. CAA 0 contactemail "viacname@example.net"`,
			`example.com. CAA 0 contactemail "base@example.net"`,
			`www.example.com. CNAME nocaa.example.org.`,
			`nocaa.example.org. A 192.0.2.1`,
			`example.org. CAA 0 contactemail "wrong@example.org"`,
			`_validation-contactemail.a.b.example.com. CNAME txt.example.org.`,
			`txt.example.org. TXT "txtcname@example.net"`,
		)
		srv.SetChaseCNAME(chase)
		f := finder(Config{}, srv)

		l := find(t, f, "a.b.example.com")
		if got := mailboxes(l.CAA); !slices.Equal(got, []string{"viacname@example.net"}) {
			t.Errorf("chase %v: CAA = %q", chase, got)
		}
		if got := mailboxes(l.TXT); !slices.Equal(got, []string{"txtcname@example.net"}) {
			t.Errorf("chase %v: TXT = %q", chase, got)
		}
		l = find(t, f, "www.example.com")
		if got := mailboxes(l.CAA); !slices.Equal(got, []string{"base@example.net"}) {
			t.Errorf("chase %v: CAA via CNAME without CAA = %q", chase, got)
		}
		if l.Warnings != nil {
			t.Errorf("chase %v: warnings %q", chase, l.Warnings)
		}
	}
}

// BR 3.2.2.4.13: a CNAME loop is a failed lookup, never an empty set.
func TestBR322413CNAMELoopIsAFailure(t *testing.T) {
	srv := dnstest.Start(t,
		`www.example.com. CNAME loop.example.com.`,
		`loop.example.com. CNAME www.example.com.`,
		`example.com. CAA 0 contactemail "base@example.net"`,
	)
	srv.SetChaseCNAME(false)
	l := find(t, finder(Config{}, srv), "www.example.com")
	if l.CAA != nil || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "CAA lookup of www.example.com") {
		t.Errorf("CAA %+v, warnings %q", l.CAA, l.Warnings)
	}
}

// BR 3.2.2.9: an address is offered only when the quorum of perspectives
// returns it; by default the Quorum Requirements table (2 of 3).
func TestBR3229Quorum(t *testing.T) {
	tests := []struct {
		name   string
		quorum int
		on     []bool // which of the 3 resolvers have the records
		want   bool
	}{
		{"2 of 3, default quorum", 0, []bool{true, true, false}, true},
		{"3 of 3, default quorum", 0, []bool{true, true, true}, true},
		{"1 of 3 not enough", 0, []bool{false, true, false}, false},
		{"0 of 3", 0, []bool{false, false, false}, false},
		{"2 of 3, quorum 3", 3, []bool{true, false, true}, false},
		{"1 of 3, quorum 1", 1, []bool{false, false, true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var servers []*dnstest.Server
			for _, on := range tt.on {
				s := dnstest.Start(t, txtRR("example.com", `"common@example.net"`))
				if on {
					s.Add(
						txtRR("www.example.com", `"txt@example.net"`),
						`example.com. CAA 0 contactemail "caa@example.net"`,
					)
				}
				servers = append(servers, s)
			}
			l := find(t, finder(Config{Quorum: tt.quorum}, servers...), "www.example.com")
			wantTXT, wantCAA := []string{"common@example.net"}, []string{}
			if tt.want {
				wantTXT = append(wantTXT, "txt@example.net")
				wantCAA = []string{"caa@example.net"}
			}
			if got := mailboxes(l.TXT); !slices.Equal(got, wantTXT) {
				t.Errorf("TXT = %q, want %q", got, wantTXT)
			}
			if got := mailboxes(l.CAA); !slices.Equal(got, wantCAA) {
				t.Errorf("CAA = %q, want %q", got, wantCAA)
			}
		})
	}
}

// BR 3.2.2.9: the default quorum follows the Quorum Requirements table.
func TestBR3229DefaultQuorumTable(t *testing.T) {
	want := map[int]int{0: 1, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 5, 10: 8}
	for n, q := range want {
		if got := DefaultQuorum(n); got != q {
			t.Errorf("DefaultQuorum(%d) = %d, want %d", n, got, q)
		}
	}
}

// BR 3.2.2.9: a perspective is a distinct resolver; one listed twice does
// not corroborate itself.
func TestBR3229DuplicateResolverCountsOnce(t *testing.T) {
	srv := dnstest.Start(t, txtRR("example.com", `"txt@example.net"`))
	f := NewFinder(Config{Resolvers: []string{srv.Addr(), srv.Addr()}, Quorum: 2, Timeout: 2 * time.Second})
	l := find(t, f, "example.com")
	if l.TXT != nil {
		t.Errorf("TXT = %+v", l.TXT)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "need 2 resolvers") {
		t.Errorf("warnings %q", l.Warnings)
	}
}

// BR 3.2.2.9 and docs/rules.md: a failed perspective does not count, but the
// others can still reach the quorum; the failure is reported.
func TestBR3229FailedPerspective(t *testing.T) {
	var servers []*dnstest.Server
	for range 3 {
		servers = append(servers, dnstest.Start(t,
			txtRR("example.com", `"txt@example.net"`),
			`example.com. CAA 0 contactemail "caa@example.net"`,
		))
	}
	f := finder(Config{}, servers...)
	servers[1].Fail(TXTPrefix+".example.com", dns.RcodeServerFailure)
	servers[1].Fail("example.com", dns.RcodeRefused)
	l := find(t, f, "example.com")
	if len(l.TXT) != 1 || len(l.CAA) != 1 || len(l.Warnings) != 2 {
		t.Errorf("one failed of 3: TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}
	servers[2].Fail(TXTPrefix+".example.com", dns.RcodeServerFailure)
	servers[2].Fail("example.com", dns.RcodeServerFailure)
	l = find(t, f, "example.com")
	if l.TXT != nil || l.CAA != nil || len(l.Warnings) != 4 {
		t.Errorf("two failed of 3: TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}
}

// BR 3.2.2.4 preamble (DNSSEC from 2026-03-15): with RequireAD the queries
// ask for DNSSEC (AD and DO bits) and an answer without the AD bit is a
// failure with a warning, never an empty answer.
func TestDNSSECRequireAD(t *testing.T) {
	srv := dnstest.Start(t,
		txtRR("example.com", `"txt@example.net"`),
		`example.com. CAA 0 contactemail "caa@example.net"`,
	)
	strict := finder(Config{RequireAD: true}, srv)

	l := find(t, strict, "example.com")
	if l.TXT != nil || l.CAA != nil || len(l.Warnings) != 2 {
		t.Errorf("without AD: TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}
	for _, w := range l.Warnings {
		if !strings.Contains(w, "DNSSEC") {
			t.Errorf("warning %q does not say why", w)
		}
	}
	for _, q := range srv.Queries() {
		if !q.AD || !q.DO {
			t.Errorf("query %+v lacks AD or DO", q)
		}
	}

	srv.SetAD(true)
	l = find(t, strict, "example.com")
	if len(l.TXT) != 1 || len(l.CAA) != 1 || l.Warnings != nil {
		t.Errorf("with AD: TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}

	srv.SetAD(false)
	l = find(t, finder(Config{}, srv), "example.com")
	if len(l.TXT) != 1 || len(l.CAA) != 1 || l.Warnings != nil {
		t.Errorf("AD not required: TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}
}

// docs/rules.md (BR 3.2.2.4 preamble): SERVFAIL, REFUSED or a timeout is
// never taken as an empty answer: the list stays empty and a warning says
// why. NXDOMAIN and NODATA are a genuine absence, without warning.
func TestFailureIsWarningNotEmptySuccess(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*dnstest.Server)
		why   string
	}{
		{"SERVFAIL", func(s *dnstest.Server) {
			s.Fail(TXTPrefix+".www.example.com", dns.RcodeServerFailure)
			s.Fail("www.example.com", dns.RcodeServerFailure)
		}, "SERVFAIL"},
		{"REFUSED", func(s *dnstest.Server) {
			s.Fail(TXTPrefix+".www.example.com", dns.RcodeRefused)
			s.Fail("www.example.com", dns.RcodeRefused)
		}, "REFUSED"},
		{"timeout", func(s *dnstest.Server) { s.SetDelay(2 * time.Second) }, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.Start(t,
				txtRR("www.example.com", `"txt@example.net"`),
				`example.com. CAA 0 contactemail "caa@example.net"`,
			)
			tt.setup(srv)
			start := time.Now()
			l := find(t, finder(Config{Timeout: 200 * time.Millisecond}, srv), "www.example.com")
			if d := time.Since(start); d > time.Second {
				t.Errorf("Find took %v with a 200ms timeout", d)
			}
			if l.TXT != nil || l.CAA != nil {
				t.Errorf("TXT %+v CAA %+v", l.TXT, l.CAA)
			}
			if len(l.Warnings) < 2 {
				t.Fatalf("warnings %q", l.Warnings)
			}
			want := []string{"TXT lookup of " + TXTPrefix + ".www.example.com", "CAA lookup of www.example.com"}
			for _, w := range want {
				if !slices.ContainsFunc(l.Warnings, func(s string) bool {
					return strings.Contains(s, w) && strings.Contains(s, tt.why)
				}) {
					t.Errorf("no warning with %q and %q in %q", w, tt.why, l.Warnings)
				}
			}
			if len(l.Constructed) != 10 {
				t.Errorf("constructed addresses must not depend on DNS: %d", len(l.Constructed))
			}
		})
	}
}

// RFC 7766 section 5 (DNS over TCP): a truncated UDP answer is asked again
// over TCP.
func TestTruncatedRetriedOverTCP(t *testing.T) {
	srv := dnstest.Start(t,
		txtRR("example.com", `"txt@example.net"`),
		`example.com. CAA 0 contactemail "caa@example.net"`,
	)
	srv.SetTruncateUDP(true)
	l := find(t, finder(Config{}, srv), "example.com")
	if len(l.TXT) != 1 || len(l.CAA) != 1 || l.Warnings != nil {
		t.Fatalf("TXT %+v CAA %+v warnings %q", l.TXT, l.CAA, l.Warnings)
	}
	var udp, tcp int
	for _, q := range srv.Queries() {
		switch q.Net {
		case "udp":
			udp++
		case "tcp":
			tcp++
		}
	}
	if udp == 0 || tcp != udp {
		t.Errorf("udp %d, tcp %d queries; want each UDP query retried over TCP", udp, tcp)
	}
}

// dnstest: records changed at run time are seen by the next Find.
func TestRecordsChangeAtRunTime(t *testing.T) {
	srv := dnstest.Start(t)
	f := finder(Config{}, srv)
	if l := find(t, f, "example.com"); l.TXT != nil {
		t.Fatalf("TXT %+v", l.TXT)
	}
	srv.Set(TXTPrefix+".example.com", dns.TypeTXT, txtRR("example.com", `"new@example.net"`))
	if l := find(t, f, "example.com"); !slices.Equal(mailboxes(l.TXT), []string{"new@example.net"}) {
		t.Fatalf("TXT %+v", l.TXT)
	}
	srv.Remove(TXTPrefix+".example.com", dns.TypeTXT)
	if l := find(t, f, "example.com"); l.TXT != nil {
		t.Fatalf("TXT %+v", l.TXT)
	}
}

// The lookups of one Find run in parallel: with every answer delayed, a
// call with 3 ADNs, a 4-level CAA climb and 3 resolvers (21 queries) takes
// about one delay, not their sum.
func TestFindIsParallel(t *testing.T) {
	const delay = 100 * time.Millisecond
	var servers []*dnstest.Server
	for range 3 {
		s := dnstest.Start(t, txtRR("b.example.com", `"txt@example.net"`))
		s.SetDelay(delay)
		servers = append(servers, s)
	}
	start := time.Now()
	l := find(t, finder(Config{}, servers...), "a.b.example.com")
	if d := time.Since(start); d > 3*delay {
		t.Errorf("Find took %v; each lookup takes %v", d, delay)
	}
	if len(l.TXT) != 1 || l.Warnings != nil {
		t.Errorf("TXT %+v warnings %q", l.TXT, l.Warnings)
	}
}

// A canceled context is a failure with a warning, not an empty answer.
func TestCanceledContext(t *testing.T) {
	srv := dnstest.Start(t, txtRR("example.com", `"txt@example.net"`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l, err := finder(Config{}, srv).Find(ctx, "example.com")
	if err != nil || l.TXT != nil || len(l.Warnings) != 2 || len(l.Constructed) != 5 {
		t.Errorf("got %+v, %v", l, err)
	}
}

// SystemResolvers reads the name servers of a resolv.conf file.
func TestResolversFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "# test\nnameserver 192.0.2.1\nnameserver 2001:db8::1\noptions ndots:1\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := resolversFromFile(path)
	if err != nil || !slices.Equal(got, []string{"192.0.2.1:53", "[2001:db8::1]:53"}) {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := resolversFromFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing file")
	}
}
