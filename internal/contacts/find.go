package contacts

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// TXTPrefix is the label under which BR 3.2.2.4.14 publishes a DNS TXT
// contact: the TXT record at TXTPrefix + "." + ADN.
const TXTPrefix = "_validation-contactemail"

// CAAContactTag is the CAA property whose value is a BR 3.2.2.4.13 contact.
const CAAContactTag = "contactemail"

// DefaultTimeout is the per-query timeout used when Config.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// maxCNAMEHops bounds the CNAMEs followed for one lookup.
const maxCNAMEHops = 8

// ednsSize is the EDNS0 UDP payload size announced in queries (DNS flag day
// 2020); larger answers come truncated and are asked again over TCP.
const ednsSize = 1232

// Config tells a Finder where and how to look up DNS contacts.
type Config struct {
	// Resolvers are recursive resolvers as host:port. Each one is a network
	// perspective (BR 3.2.2.9); duplicates count once. With none, Find does
	// no DNS lookup and returns constructed addresses only.
	Resolvers []string
	// Quorum is how many resolvers must return a TXT or CAA address for it
	// to be offered. Zero or less means the BR 3.2.2.9 quorum table: with n
	// resolvers, n-1 must agree for 2 to 5 and n-2 for 6 or more (1 of 1).
	Quorum int
	// RequireAD sets the AD and DO bits in queries and refuses every answer
	// that does not come back with the AD bit (DNSSEC-validated), as BR
	// 3.2.2.4 requires for contact lookups from 2026-03-15.
	RequireAD bool
	// Timeout bounds each query (a retry over TCP gets its own). Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Finder looks up the contacts of a name. It is safe for concurrent use.
type Finder struct {
	resolvers []string
	quorum    int
	requireAD bool
	timeout   time.Duration
}

// NewFinder returns a Finder for cfg.
func NewFinder(cfg Config) *Finder {
	f := &Finder{requireAD: cfg.RequireAD, timeout: cfg.Timeout}
	seen := map[string]bool{}
	for _, r := range cfg.Resolvers {
		if r != "" && !seen[r] {
			seen[r] = true
			f.resolvers = append(f.resolvers, r)
		}
	}
	f.quorum = cfg.Quorum
	if f.quorum <= 0 {
		f.quorum = DefaultQuorum(len(f.resolvers))
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	return f
}

// DefaultQuorum is the number of perspectives out of n that must corroborate
// a result under the Quorum Requirements table of BR 3.2.2.9: of 2 to 5
// perspectives one may fail to corroborate, of 6 or more two. A single
// perspective must agree with itself.
func DefaultQuorum(n int) int {
	switch {
	case n <= 1:
		return 1
	case n <= 5:
		return n - 1
	default:
		return n - 2
	}
}

// SystemResolvers returns the name servers of /etc/resolv.conf as host:port,
// for use when no resolver is configured.
func SystemResolvers() ([]string, error) {
	return resolversFromFile("/etc/resolv.conf")
}

func resolversFromFile(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	if len(out) == 0 {
		return nil, errors.New("contacts: no name server in " + path)
	}
	return out, nil
}

// lookupError is why one lookup gave no usable answer. Its text goes into
// List.Warnings.
type lookupError string

func (e lookupError) Error() string { return string(e) }

const (
	errTimeout    lookupError = "timed out"
	errCanceled   lookupError = "canceled"
	errNetwork    lookupError = "network error"
	errTruncated  lookupError = "truncated answer over TCP"
	errMismatch   lookupError = "answer does not match the question"
	errNoAD       lookupError = "answer not DNSSEC-validated (no AD bit)"
	errCNAMEChain lookupError = "CNAME chain too long or looping"
)

func rcodeError(rcode int) lookupError {
	name, ok := dns.RcodeToString[rcode]
	if !ok {
		name = "RCODE " + strconv.Itoa(rcode)
	}
	switch rcode {
	case dns.RcodeServerFailure:
		return lookupError("server failure (" + name + ")")
	case dns.RcodeRefused:
		return lookupError("refused (" + name + ")")
	}
	return lookupError("error answer (" + name + ")")
}

// result is what one resolver said about one lookup: the bare addresses
// found, or why it could not tell.
type result struct {
	addrs []string
	err   error
	name  string // the name whose lookup failed, for the warning
}

// Find returns the permitted recipients for fqdn, a name as returned by
// Normalize: the constructed addresses, and the DNS TXT and CAA contacts
// that at least the quorum of resolvers return. All DNS lookups run in
// parallel. A failed lookup (SERVFAIL, REFUSED, timeout, no AD bit when
// required) never counts as "no record": that resolver's answer is left out
// and a warning is added. The only error is ErrInvalidName.
func (f *Finder) Find(ctx context.Context, fqdn string) (List, error) {
	if n, err := Normalize(fqdn); err != nil || n != fqdn {
		return List{}, ErrInvalidName
	}
	constructed, err := ConstructedAddresses(fqdn)
	if err != nil {
		return List{}, err
	}
	adns, err := AuthorizationDomainNames(fqdn)
	if err != nil {
		return List{}, err
	}
	list := List{Domain: fqdn, Constructed: constructed}
	if len(f.resolvers) == 0 {
		return list, nil
	}

	// One goroutine per resolver and name: the TXT name of every ADN, and
	// every level of the CAA climb (queried at once; the climb is decided
	// afterwards from the answers).
	levels := caaLevels(fqdn)
	txt := make([][]result, len(f.resolvers))
	caa := make([][]result, len(f.resolvers))
	var wg sync.WaitGroup
	for r, server := range f.resolvers {
		txt[r] = make([]result, len(adns))
		caa[r] = make([]result, len(levels))
		for i, adn := range adns {
			wg.Go(func() { txt[r][i] = f.lookupTXT(ctx, server, TXTPrefix+"."+adn) })
		}
		for i, level := range levels {
			wg.Go(func() { caa[r][i] = f.lookupCAA(ctx, server, level) })
		}
	}
	wg.Wait()

	if f.quorum > len(f.resolvers) {
		list.Warnings = append(list.Warnings, "DNS contacts need "+strconv.Itoa(f.quorum)+
			" resolvers to agree but only "+strconv.Itoa(len(f.resolvers))+" are configured")
	}
	var txtSeen dedup
	for i, adn := range adns {
		per := make([]result, len(f.resolvers))
		for r := range f.resolvers {
			per[r] = txt[r][i]
		}
		for _, mb := range f.corroborate(per, "TXT", &list.Warnings) {
			if txtSeen.add(mb) {
				list.TXT = append(list.TXT, Address{Mailbox: mb, Source: DNSTXT, ADN: adn})
			}
		}
	}
	per := make([]result, len(f.resolvers))
	for r := range f.resolvers {
		per[r] = climb(levels, caa[r])
	}
	var caaSeen dedup
	for _, mb := range f.corroborate(per, "CAA", &list.Warnings) {
		if caaSeen.add(mb) {
			list.CAA = append(list.CAA, Address{Mailbox: mb, Source: DNSCAA, ADN: fqdn})
		}
	}
	return list, nil
}

// corroborate returns, in order of first appearance (resolver order, then
// record order), the addresses that at least the quorum of resolvers
// returned, and adds a warning for each resolver whose lookup failed.
func (f *Finder) corroborate(per []result, kind string, warnings *[]string) []string {
	count := map[string]int{}
	var order []string
	for r, res := range per {
		if res.err != nil {
			*warnings = append(*warnings, warning("DNS "+kind+" lookup of "+res.name+
				" via "+f.resolvers[r]+" failed: "+res.err.Error()))
			continue
		}
		var mine dedup
		for _, mb := range res.addrs {
			if !mine.add(mb) {
				continue
			}
			if count[mb] == 0 {
				order = append(order, mb)
			}
			count[mb]++
		}
	}
	var out []string
	for _, mb := range order {
		if count[mb] >= f.quorum {
			out = append(out, mb)
		}
	}
	return out
}

// warning keeps a warning free of characters that the wire formats treat
// specially.
func warning(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '+', '%', '&', '=':
			return -1
		}
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// dedup remembers the strings already seen.
type dedup map[string]bool

func (d *dedup) add(s string) bool {
	if *d == nil {
		*d = dedup{}
	}
	if (*d)[s] {
		return false
	}
	(*d)[s] = true
	return true
}

// caaLevels is the CAA search path of RFC 8659 section 3: the FQDN and each
// of its parents up to, but not including, the root.
func caaLevels(fqdn string) []string {
	levels := []string{fqdn}
	for n := fqdn; ; {
		i := strings.IndexByte(n, '.')
		if i < 0 {
			return levels
		}
		n = n[i+1:]
		levels = append(levels, n)
	}
}

// climb applies RFC 8659 section 3 to one resolver's answers for every
// level: the relevant record set is the first non-empty one from the FQDN
// up. A failed lookup below it makes the whole result unknown; failures
// above it do not matter.
func climb(levels []string, answers []result) result {
	for i, res := range answers {
		if res.err != nil {
			return result{err: res.err, name: levels[i]}
		}
		if res.addrs != nil { // non-empty record set, maybe without contacts
			return result{addrs: res.addrs}
		}
	}
	return result{}
}

// lookupTXT returns the bare addresses of the TXT records at name: each
// record's character-strings joined must be one valid mailbox.
func (f *Finder) lookupTXT(ctx context.Context, server, name string) result {
	rrs, err := f.resolve(ctx, server, name, dns.TypeTXT)
	if err != nil {
		return result{err: err, name: name}
	}
	var out []string
	for _, rr := range rrs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		if mb, err := NormalizeMailbox(strings.Join(t.Txt, "")); err == nil {
			out = append(out, mb)
		}
	}
	return result{addrs: out}
}

// lookupCAA returns the contactemail values of the CAA record set at name
// that are one bare valid mailbox. A non-empty record set gives a non-nil
// (maybe empty) slice, so that the climb stops there.
func (f *Finder) lookupCAA(ctx context.Context, server, name string) result {
	rrs, err := f.resolve(ctx, server, name, dns.TypeCAA)
	if err != nil {
		return result{err: err, name: name}
	}
	var out []string
	for _, rr := range rrs {
		c, ok := rr.(*dns.CAA)
		if !ok {
			continue
		}
		if out == nil {
			out = []string{}
		}
		if !strings.EqualFold(c.Tag, CAAContactTag) {
			continue
		}
		if mb, err := NormalizeMailbox(c.Value); err == nil {
			out = append(out, mb)
		}
	}
	return result{addrs: out}
}

// resolve returns the records of type qtype at name, following CNAMEs as
// ordinary resolution does: through the chain in an answer, and by asking
// again for a CNAME target that the resolver did not follow. NXDOMAIN and
// NODATA give no records and no error.
func (f *Finder) resolve(ctx context.Context, server, name string, qtype uint16) ([]dns.RR, error) {
	target := dns.CanonicalName(name)
	seen := map[string]bool{target: true}
	for range maxCNAMEHops {
		msg, err := f.exchange(ctx, server, target, qtype)
		if err != nil {
			return nil, err
		}
		final, rrs := follow(msg.Answer, target, qtype)
		if len(rrs) > 0 || final == target || msg.Rcode == dns.RcodeNameError {
			return rrs, nil
		}
		// The answer ends in a CNAME whose target it does not resolve.
		if seen[final] {
			return nil, errCNAMEChain
		}
		seen[final] = true
		target = final
	}
	return nil, errCNAMEChain
}

// follow walks the CNAME chain in an answer from name and returns the name
// it ends at with the records of type qtype there.
func follow(answer []dns.RR, name string, qtype uint16) (string, []dns.RR) {
	for range len(answer) + 1 {
		next := ""
		for _, rr := range answer {
			h := rr.Header()
			if h.Rrtype == dns.TypeCNAME && h.Class == dns.ClassINET && strings.EqualFold(h.Name, name) {
				next = dns.CanonicalName(rr.(*dns.CNAME).Target)
				break
			}
		}
		if next == "" || next == name {
			break
		}
		name = next
	}
	var rrs []dns.RR
	for _, rr := range answer {
		h := rr.Header()
		if h.Rrtype == qtype && h.Class == dns.ClassINET && strings.EqualFold(h.Name, name) {
			rrs = append(rrs, rr)
		}
	}
	return name, rrs
}

// exchange sends one query over UDP, and again over TCP if the answer comes
// truncated. It returns an error for anything but a usable NOERROR or
// NXDOMAIN answer.
func (f *Finder) exchange(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsSize, f.requireAD)
	m.AuthenticatedData = f.requireAD

	resp, err := f.exchangeOnce(ctx, "udp", server, m)
	if err == nil && resp.Truncated {
		resp, err = f.exchangeOnce(ctx, "tcp", server, m)
		if err == nil && resp.Truncated {
			return nil, errTruncated
		}
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Question) != 1 || resp.Question[0].Qtype != qtype ||
		!strings.EqualFold(resp.Question[0].Name, name) {
		return nil, errMismatch
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, rcodeError(resp.Rcode)
	}
	if f.requireAD && !resp.AuthenticatedData {
		return nil, errNoAD
	}
	return resp, nil
}

func (f *Finder) exchangeOnce(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: f.timeout, UDPSize: ednsSize}
	q := m.Copy()
	q.Id = dns.Id()
	resp, _, err := c.ExchangeContext(qctx, q, server)
	if err != nil {
		if resp != nil && resp.Truncated && network == "udp" {
			return resp, nil // a cut-off UDP answer: retry over TCP
		}
		var ne net.Error
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return nil, errCanceled
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			return nil, errTimeout
		}
		return nil, errNetwork
	}
	return resp, nil
}
