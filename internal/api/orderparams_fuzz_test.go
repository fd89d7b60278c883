package api

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// FuzzOrderParams feeds arbitrary bodies to the parameter checks of the
// order calls: they never panic, refuse with a documented code (-2, -3,
// -4, -7), and what they accept holds only values that pass their own
// check again unchanged (normalization is stable).
//
//	go test -run '^$' -fuzz FuzzOrderParams -fuzztime 30s ./internal/api
func FuzzOrderParams(f *testing.F) {
	for _, seed := range []string{
		"loginName=a&loginPassword=b&product=287&serverSoftware=-1&csr=MIIB",
		"loginName=a&loginPassword=b&product=279&serverSoftware=3&csr=x&domainNames=a.example,%20*.b.example&dcvEmailAddresses=admin%40a.example,HTTPCSRHASH",
		"loginName=a&loginPassword=b&product=1&serverSoftware=36&csr=x&countryName=gb&uniqueValue=ABC123",
		"loginName=a&loginPassword=b&orderNumber=1&queryType=1&responseType=2&responseEncoding=1",
		"loginName=a&loginPassword=b&serialNumber=0a:BC&codeReason=5&test=y",
		"csr=-----BEGIN%20CERTIFICATE%20REQUEST-----%0AMIIB%0A-----END",
	} {
		f.Add(seed)
	}
	h := &Handler{}
	eps := []*endpoint{&applyEndpoint, &collectEndpoint, &revokeEndpoint, &replaceEndpoint, &refundEndpoint, &decodeEndpoint}
	f.Fuzz(func(t *testing.T, body string) {
		for _, ep := range eps {
			r := httptest.NewRequest(http.MethodPost, "/products/x", strings.NewReader(body))
			r.TLS = &tls.ConnectionState{}
			a, werr := h.parse(r, ep)
			if werr != nil {
				switch werr.Code {
				case wire.UnknownArgument, wire.MissingArgument, wire.InvalidArgument, -7:
				default:
					t.Fatalf("undocumented refusal %d for %q", werr.Code, body)
				}
				continue
			}
			for name, v := range a.values {
				p := ep.find(name)
				again, ok := p.check(v, a.values)
				if !ok || again != v {
					t.Fatalf("%s=%q: normalized value does not check again (%q, %v)", name, v, again, ok)
				}
			}
		}
	})
}
