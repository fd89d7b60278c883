package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/loopback"
)

// The test CA's CRLs and OCSP answers are signed for every request, and
// DecodeCSR checks a key of up to 8,192 bits: anyone may ask for either,
// and a stranger asking without pause took both cores from everyone
// (BENCHMARKS.md, "Sixteenth round"). One source gets its burst of such
// costly work, then its rate, and is refused beyond (the CA's endpoints
// with 503 and Retry-After, DecodeCSR with -14 and Retry-After), whichever
// it asks for; another source is not held back by it, and neither is this
// machine's own address. Each part fails without the bound.
func TestStrangerAskingForCostlyWorkIsHeldToItsRate(t *testing.T) {
	t.Parallel()
	s := startOps(t, func(c *config.Serve) { c.HTTPListen = "127.0.0.1:0" })
	base := s.HTTPURL()
	client := func(from net.Addr) *http.Client {
		d := &net.Dialer{LocalAddr: from, Timeout: 5 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	}
	get := func(c *http.Client, path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, der := get(client(nil), "/ca/issuing.der")
	issuer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ocspOf := func(c *http.Client) *http.Response {
		t.Helper()
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
		req, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: n}, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Post(base+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	// A stranger on 127.0.0.2 asks for OCSP answers and CRLs from eight
	// connections at once, twice its burst in all (the server's clock
	// stands still, so nothing refills).
	stranger := client(loopback.Source(t, 2))
	const burst, asks = 100, 200
	var mu sync.Mutex
	codes := map[int]int{}
	retryAfter := ""
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range asks / 8 {
				var resp *http.Response
				if (w+i)%2 == 0 {
					resp = ocspOf(stranger)
				} else {
					resp, _ = get(stranger, "/crl/issuing.crl")
				}
				mu.Lock()
				codes[resp.StatusCode]++
				if resp.StatusCode == http.StatusServiceUnavailable {
					retryAfter = resp.Header.Get("Retry-After")
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[http.StatusOK] != burst || codes[http.StatusServiceUnavailable] != asks-burst {
		t.Fatalf("the stranger's %d requests for signatures: %v, want %d answered and the rest refused with 503", asks, codes, burst)
	}
	if retryAfter != "1" {
		t.Errorf("a refusal's Retry-After: %q, want 1 (the next token, a twentieth of a second away)", retryAfter)
	}
	fams := scrape(t, s)
	if n, _ := value(fams, "dcvmail_ca_signing_refused_total", ""); n != asks-burst {
		t.Errorf("dcvmail_ca_signing_refused_total = %v, want %d", n, asks-burst)
	}

	// DecodeCSR draws on the same bucket.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csr": {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))}}
	tryDecode := func(c *http.Client) (*http.Response, string, error) {
		resp, err := c.PostForm(s.URL()+"/products/!DecodeCSR", form)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	decode := func(c *http.Client) (*http.Response, string) {
		t.Helper()
		resp, b, err := tryDecode(c)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	if resp, b := decode(stranger); !strings.HasPrefix(b, "-14\n") || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("DecodeCSR from the stranger over its rate: Retry-After %q, %q; want -14 and 1", resp.Header.Get("Retry-After"), b)
	}

	// A second later it has its rate's worth again, no more.
	s.clock.Advance(time.Second)
	ok := 0
	for range 2 * 20 {
		if ocspOf(stranger).StatusCode == http.StatusOK {
			ok++
		}
	}
	if ok != 20 {
		t.Errorf("a second later the stranger got %d signatures, want 20", ok)
	}

	// A relying party on 127.0.0.3 has a burst of its own, and this
	// machine's own address (a test suite against serve --demo) no rate.
	for _, c := range []struct {
		name string
		*http.Client
		asks int
	}{{"a relying party on 127.0.0.3", client(loopback.Source(t, 3)), burst - 2}, {"127.0.0.1", client(nil), 2 * burst}} {
		for i := range c.asks {
			if resp := ocspOf(c.Client); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: OCSP request %d: HTTP %d", c.name, i+1, resp.StatusCode)
			}
		}
		if resp, b := get(c.Client, "/crl/issuing.crl"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: CRL: HTTP %d %s", c.name, resp.StatusCode, b)
		}
		if _, b := decode(c.Client); !strings.HasPrefix(b, "0\n") {
			t.Fatalf("%s: DecodeCSR: %q", c.name, b)
		}
	}

	// Nor is this machine refused for asking much at once: a test suite's
	// 64 DecodeCSRs in flight, more than a stranger may have waiting, wait
	// their turn and are all answered. (TestGuard makes the wait certain;
	// here it depends on the scheduler.)
	local := client(nil)
	local.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var answered, refused atomic.Int32
	var firstRefusal atomic.Value
	var suite sync.WaitGroup
	for range 64 {
		suite.Go(func() {
			for range 4 {
				_, b, err := tryDecode(local)
				if err == nil && strings.HasPrefix(b, "0\n") {
					answered.Add(1)
					continue
				}
				refused.Add(1)
				firstRefusal.CompareAndSwap(nil, fmt.Sprintf("%q %v", b, err))
			}
		})
	}
	suite.Wait()
	if refused.Load() != 0 {
		t.Errorf("this machine's 256 DecodeCSRs, 64 at once: %d answered, %d not; the first: %v", answered.Load(), refused.Load(), firstRefusal.Load())
	}
}
