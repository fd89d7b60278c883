package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	return r
}

func TestServer(t *testing.T) {
	s := Start(t,
		`www.example.com. TXT "hello"`,
		`alias.example.com. CNAME www.example.com.`,
	)
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
	}{
		{"www.example.com.", dns.TypeTXT, dns.RcodeSuccess, 1},
		{"WWW.Example.COM.", dns.TypeTXT, dns.RcodeSuccess, 1},
		{"www.example.com.", dns.TypeCAA, dns.RcodeSuccess, 0}, // NODATA
		{"example.com.", dns.TypeTXT, dns.RcodeSuccess, 0},     // empty non-terminal
		{"nope.example.com.", dns.TypeTXT, dns.RcodeNameError, 0},
		{"alias.example.com.", dns.TypeTXT, dns.RcodeSuccess, 2}, // CNAME chased
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			r := ask(t, s, network, tt.name, tt.qtype)
			if r.Rcode != tt.rcode || len(r.Answer) != tt.answers {
				t.Errorf("%s %s %d: rcode %d, %d answers", network, tt.name, tt.qtype, r.Rcode, len(r.Answer))
			}
		}
	}

	s.SetChaseCNAME(false)
	if r := ask(t, s, "udp", "alias.example.com.", dns.TypeTXT); len(r.Answer) != 1 {
		t.Errorf("CNAME not chased: %d answers", len(r.Answer))
	}
	s.Fail("www.example.com", dns.RcodeServerFailure)
	if r := ask(t, s, "udp", "www.example.com.", dns.TypeTXT); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %d, want SERVFAIL", r.Rcode)
	}
	s.Fail("www.example.com", dns.RcodeSuccess)
	s.SetTruncateUDP(true)
	s.SetAD(true)
	if r := ask(t, s, "udp", "www.example.com.", dns.TypeTXT); !r.Truncated || len(r.Answer) != 0 || !r.AuthenticatedData {
		t.Errorf("UDP: truncated %v, %d answers, AD %v", r.Truncated, len(r.Answer), r.AuthenticatedData)
	}
	if r := ask(t, s, "tcp", "www.example.com.", dns.TypeTXT); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("TCP: truncated %v, %d answers", r.Truncated, len(r.Answer))
	}
	s.SetDelay(50 * time.Millisecond)
	start := time.Now()
	ask(t, s, "tcp", "www.example.com.", dns.TypeTXT)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answer after %v, want at least 50ms", d)
	}
	if q := s.Queries(); len(q) != 17 || q[0].Name != "www.example.com." || q[0].Net != "udp" {
		t.Errorf("queries: %d, first %+v", len(q), q[0])
	}
	s.ResetQueries()
	if len(s.Queries()) != 0 {
		t.Error("ResetQueries kept queries")
	}
}
