// Package dnstest runs a small in-process DNS server on 127.0.0.1 for tests.
//
// It answers from a zone held in memory, over UDP and TCP on one random
// port, roughly as a recursive resolver would: it follows CNAMEs inside its
// zone (unless told not to), answers NXDOMAIN for names it does not know and
// NOERROR with an empty answer for names that exist without the asked type.
// Tests can make it fail a name with any RCODE, delay every answer, truncate
// every UDP answer (so that clients must retry over TCP), set the AD bit, and
// change records while it runs. It stops itself when the test ends.
//
//	srv := dnstest.Start(t)
//	srv.Add(`_validation-contactemail.example.com. TXT "dns@example.com"`)
//	srv.Add(`example.com. CAA 0 contactemail "caa@example.com"`)
//	resolver := srv.Addr() // "127.0.0.1:port"
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Query is one question the server received.
type Query struct {
	Name string // lowercase, fully qualified
	Type uint16
	Net  string // "udp" or "tcp"
	RD   bool   // recursion desired
	AD   bool   // AD bit set in the query
	DO   bool   // EDNS0 DO bit set
}

type rrKey struct {
	name  string
	rtype uint16
}

// Server is a running test DNS server. Its methods are safe for concurrent
// use.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	stop chan struct{}

	mu       sync.Mutex
	records  map[rrKey][]dns.RR
	rcodes   map[string]int
	delay    time.Duration
	truncate bool
	ad       bool
	noChase  bool
	log      []Query
}

// Start starts a server on 127.0.0.1 (UDP and TCP, same random port) with an
// empty zone, and registers its shutdown with t.Cleanup. Records given in
// presentation format are added as by Add.
func Start(t testing.TB, records ...string) *Server {
	t.Helper()
	s := &Server{
		stop:    make(chan struct{}),
		records: map[rrKey][]dns.RR{},
		rcodes:  map[string]int{},
	}
	pc, ln, err := listen()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc}
	s.tcp = &dns.Server{Listener: ln}
	t.Cleanup(func() {
		s.close()
		pc.Close()
		ln.Close()
	})
	s.serve(t, s.udp, "udp")
	s.serve(t, s.tcp, "tcp")
	s.Add(records...)
	return s
}

// listen opens a UDP socket and a TCP listener on the same random port of
// 127.0.0.1, trying a few ports in case the TCP one is taken.
func listen() (net.PacketConn, net.Listener, error) {
	var err error
	for range 20 {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, err
}

func (s *Server) serve(t testing.TB, srv *dns.Server, network string) {
	t.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		s.handle(w, r, network)
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("dnstest: %s server: %v", network, err)
	}
}

func (s *Server) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.udp.ShutdownContext(ctx) // best effort in cleanup
	_ = s.tcp.ShutdownContext(ctx)
}

// Addr is the server's address as host:port, for UDP and TCP alike.
func (s *Server) Addr() string { return s.addr }

// Add adds records given in presentation format, e.g.
// `example.com. 300 IN CAA 0 contactemail "a@example.com"`. A relative owner
// name is taken as fully qualified. It panics on a record that does not
// parse, which is a bug in the test.
func (s *Server) Add(records ...string) {
	rrs := make([]dns.RR, 0, len(records))
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil || rr == nil {
			panic("dnstest: bad record " + r + ": " + errString(err))
		}
		rrs = append(rrs, rr)
	}
	s.AddRR(rrs...)
}

// AddRR adds records to the zone, after those already there.
func (s *Server) AddRR(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		rr = dns.Copy(rr)
		rr.Header().Name = canonical(rr.Header().Name)
		if rr.Header().Ttl == 0 {
			rr.Header().Ttl = 300
		}
		k := rrKey{rr.Header().Name, rr.Header().Rrtype}
		s.records[k] = append(s.records[k], rr)
	}
}

// Remove deletes the records of one type at a name.
func (s *Server) Remove(name string, rtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, rrKey{canonical(name), rtype})
}

// Set replaces the records of one type at a name with the given ones (in
// presentation format); with none it is Remove.
func (s *Server) Set(name string, rtype uint16, records ...string) {
	s.Remove(name, rtype)
	s.Add(records...)
}

// Fail makes the server answer every query for name with rcode (for example
// dns.RcodeServerFailure or dns.RcodeRefused) and no records. Rcode
// dns.RcodeSuccess clears it.
func (s *Server) Fail(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rcode == dns.RcodeSuccess {
		delete(s.rcodes, canonical(name))
		return
	}
	s.rcodes[canonical(name)] = rcode
}

// SetDelay delays every answer by d (0: none). Answers are sent
// concurrently, so n parallel queries take about d, not n times d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetTruncateUDP makes every UDP answer truncated (TC bit, no records), so
// that a client gets the records only by retrying over TCP.
func (s *Server) SetTruncateUDP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = on
}

// SetAD sets or clears the AD (authenticated data) bit in every answer, as a
// validating resolver would for a signed zone.
func (s *Server) SetAD(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ad = on
}

// SetChaseCNAME chooses whether the server follows CNAMEs within its zone
// and puts the whole chain in the answer (on, the default, like a recursive
// resolver), or answers with the first CNAME alone (off).
func (s *Server) SetChaseCNAME(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noChase = !on
}

// Queries returns the questions received so far, in order of arrival.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// ResetQueries forgets the questions received so far.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

func (s *Server) handle(w dns.ResponseWriter, r *dns.Msg, network string) {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := canonical(q.Name)
	query := Query{Name: name, Type: q.Qtype, Net: network, RD: r.RecursionDesired, AD: r.AuthenticatedData}
	if opt := r.IsEdns0(); opt != nil {
		query.DO = opt.Do()
	}

	s.mu.Lock()
	s.log = append(s.log, query)
	delay, ad := s.delay, s.ad
	truncate := s.truncate && network == "udp"
	rcode, answer := s.answer(name, q.Qtype)
	s.mu.Unlock()

	m.SetRcode(r, rcode)
	m.RecursionAvailable = true
	m.AuthenticatedData = ad
	if truncate {
		m.Truncated = true
	} else {
		m.Answer = answer
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, opt.Do())
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return
		}
	}
	_ = w.WriteMsg(m) // on failure the client sees a timeout
}

// answer resolves name and type in the zone; s.mu must be held.
func (s *Server) answer(name string, qtype uint16) (int, []dns.RR) {
	var out []dns.RR
	seen := map[string]bool{}
	for hop := 0; hop < 16; hop++ {
		if rc, ok := s.rcodes[name]; ok {
			if hop == 0 {
				return rc, nil
			}
			return rc, out
		}
		if rrs := s.records[rrKey{name, qtype}]; len(rrs) > 0 {
			return dns.RcodeSuccess, append(out, copyAll(rrs)...)
		}
		cn := s.records[rrKey{name, dns.TypeCNAME}]
		if len(cn) == 0 || qtype == dns.TypeCNAME {
			if s.exists(name) {
				return dns.RcodeSuccess, out
			}
			return dns.RcodeNameError, out
		}
		out = append(out, dns.Copy(cn[0]))
		seen[name] = true
		name = canonical(cn[0].(*dns.CNAME).Target)
		if s.noChase || seen[name] {
			return dns.RcodeSuccess, out
		}
	}
	return dns.RcodeSuccess, out
}

// exists reports whether the zone has any record at name or below it (an
// empty non-terminal exists too); s.mu must be held.
func (s *Server) exists(name string) bool {
	for k := range s.records {
		if k.name == name || strings.HasSuffix(k.name, "."+name) {
			return true
		}
	}
	return false
}

func copyAll(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

func canonical(name string) string { return dns.CanonicalName(name) }

func errString(err error) string {
	if err == nil {
		return "empty"
	}
	return err.Error()
}
