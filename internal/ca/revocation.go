package ca

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revocation reasons the API accepts (codeReason), as RFC 5280 numbers them.
const (
	ReasonUnspecified          = ocsp.Unspecified
	ReasonKeyCompromise        = ocsp.KeyCompromise
	ReasonAffiliationChanged   = ocsp.AffiliationChanged
	ReasonSuperseded           = ocsp.Superseded
	ReasonCessationOfOperation = ocsp.CessationOfOperation
)

// Revoked is a revoked certificate as the CRL lists it.
type Revoked struct {
	Serial *big.Int
	At     time.Time
	Reason int // RFC 5280 reason code; 0 (unspecified) is left out of the CRL, as BR 7.2.2 asks
}

// CRLValidity is how long a CRL is current (nextUpdate - thisUpdate): BR
// 4.9.7 allows at most 10 days for a CRL of subscriber certificates. A CRL
// is made anew whenever the revoked list changed, and at least every
// CRLReuse, well before this runs out.
const CRLValidity = 7 * 24 * time.Hour

// CRLReuse is how long a CRL is served again while the list it revokes is
// unchanged. Making one costs a P-384 signature, and its verification, and
// a few microseconds per entry (5 ms of CPU for 1,000 entries here,
// BENCHMARKS.md "Seventeenth round"), and relying parties may ask for it
// as often as they like; the same CRL, with the same number, is what
// RFC 5280 expects them to get until something changes.
const CRLReuse = time.Hour

// CRL signs, as the issuing CA, a CRL of the revoked certificates, current
// for CRLValidity. While the same list is asked for within CRLReuse of the
// last CRL's thisUpdate, that CRL is answered again: the same bytes, which
// callers must not modify.
func (c *CA) CRL(revoked []Revoked) ([]byte, error) {
	h := sha256.New()
	var b []byte
	for _, r := range revoked {
		if r.Serial == nil {
			return nil, errors.New("ca: a revoked entry without a serial")
		}
		// The serial's words (its sign and length too), then the time to
		// the second and the reason: what the CRL says of the entry.
		words, negative := r.Serial.Bits(), uint64(0)
		if r.Serial.Sign() < 0 {
			negative = 1
		}
		b = binary.LittleEndian.AppendUint64(b[:0], uint64(len(words))<<1|negative)
		for _, w := range words {
			b = binary.LittleEndian.AppendUint64(b, uint64(w))
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(r.At.Unix()))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Reason))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return c.issuingCRL.get(c.clk.Now(), sum, func(now time.Time, number *big.Int) ([]byte, error) {
		entries := make([]x509.RevocationListEntry, len(revoked))
		for i, r := range revoked {
			entries[i] = x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.At.UTC().Truncate(time.Second), ReasonCode: r.Reason}
		}
		return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			RevokedCertificateEntries: entries,
			Number:                    number,
			ThisUpdate:                now,
			NextUpdate:                now.Add(CRLValidity),
		}, c.Issuer(), c.key)
	})
}

// RootCRL is the root's CRL, which revokes nothing: the intermediate's CRL
// distribution point. It is current for CRLValidity too (BR 4.9.7 would
// allow 12 months for a CA's CRL, but a CRL does not say which
// certificates it covers and zlint holds it to the subscriber limit), and
// made anew every CRLReuse. Not available for an operator's CA, whose root
// key dcvmail never holds.
func (c *CA) RootCRL() ([]byte, error) {
	if c.rootKey == nil {
		return nil, errors.New("ca: the root's CRL is the operator's to serve: dcvmail does not hold that key")
	}
	return c.rootCRL.get(c.clk.Now(), [sha256.Size]byte{}, func(now time.Time, number *big.Int) ([]byte, error) {
		return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number:     number,
			ThisUpdate: now,
			NextUpdate: now.Add(CRLValidity),
		}, c.Root(), c.rootKey)
	})
}

// lastCRL is the last CRL made, and the fingerprint of the list it
// revokes.
type lastCRL struct {
	mu     sync.Mutex
	sum    [sha256.Size]byte
	this   time.Time // its thisUpdate
	number int64     // its CRL number
	der    []byte
}

// get answers the last CRL again when it revokes the list whose
// fingerprint is sum and its thisUpdate is less than CRLReuse before now
// (and not after it: a clock set back makes a new one); otherwise it makes
// one with build, whose thisUpdate is now to the second, and keeps it. One
// CRL is made at a time. Its number is the time in nanoseconds, or one
// more than the last one's if that is not more (RFC 5280 5.2.3: numbers
// only grow, though a test's clock may stand still or go back).
func (l *lastCRL) get(now time.Time, sum [sha256.Size]byte, build func(now time.Time, number *big.Int) ([]byte, error)) ([]byte, error) {
	number := now.UnixNano()
	now = now.Truncate(time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.der != nil && sum == l.sum && !now.Before(l.this) && now.Sub(l.this) < CRLReuse {
		return l.der, nil
	}
	number = max(number, l.number+1)
	der, err := build(now, big.NewInt(number))
	if err != nil {
		return nil, err
	}
	l.sum, l.this, l.number, l.der = sum, now, number, der
	return der, nil
}

// Status is what OCSP says of a serial number.
type Status struct {
	// Known is false for a serial this CA never issued: OCSP says unknown.
	Known bool
	// Revoked, with when and why (an RFC 5280 reason code).
	Revoked   bool
	RevokedAt time.Time
	Reason    int
}

// StatusLookup finds the status of a certificate of the issuing CA.
type StatusLookup interface {
	CertStatus(ctx context.Context, serial *big.Int) (Status, error)
}

// StatusFunc lets a function be a StatusLookup.
type StatusFunc func(ctx context.Context, serial *big.Int) (Status, error)

// CertStatus implements StatusLookup.
func (f StatusFunc) CertStatus(ctx context.Context, serial *big.Int) (Status, error) {
	return f(ctx, serial)
}

// OCSPValidity is how long an OCSP response is current: BR 4.9.10 asks for
// at least 8 hours and at most 10 days. Responses are made on every
// request, so a revocation shows at once.
const OCSPValidity = 24 * time.Hour

// maxOCSPRequest bounds a POST body: a request for one certificate is
// about a hundred bytes.
const maxOCSPRequest = 8 << 10

// OCSPHandler answers RFC 6960 OCSP requests for the issuing CA's
// certificates, by POST (application/ocsp-request) and by GET with the
// base64 request as the last part of the path (mount it with
// http.StripPrefix or at a pattern ending in "/"). Responses are signed by
// the issuing CA itself. A request about another CA's certificate is
// answered "unauthorized", a malformed one "malformedRequest", a lookup
// failure "internalError" (RFC 6960 2.3); all with HTTP 200, as relying
// parties expect.
func (c *CA) OCSPHandler(lookup StatusLookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw []byte
		switch r.Method {
		case http.MethodPost:
			b, err := io.ReadAll(io.LimitReader(r.Body, maxOCSPRequest+1))
			if err != nil || len(b) > maxOCSPRequest {
				writeOCSP(w, ocsp.MalformedRequestErrorResponse, 0)
				return
			}
			raw = b
		case http.MethodGet, http.MethodHead:
			raw = getRequest(r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "OCSP takes GET or POST", http.StatusMethodNotAllowed)
			return
		}
		req, err := ocsp.ParseRequest(raw)
		if err != nil {
			writeOCSP(w, ocsp.MalformedRequestErrorResponse, 0)
			return
		}
		resp, err := c.ocspResponse(r.Context(), req, lookup)
		if err != nil {
			writeOCSP(w, resp, 0)
			return
		}
		maxAge := 0
		if r.Method != http.MethodPost {
			maxAge = 3600 // GET responses may be cached (RFC 5019 6)
		}
		writeOCSP(w, resp, maxAge)
	})
}

// getRequest decodes the base64 request of a GET: the path after a
// leading "/ocsp/" (the handler mounted at "/ocsp/") or after the leading
// "/" (mounted with http.StripPrefix). The base64 may itself hold "/", and
// always starts with "M" (a DER SEQUENCE), so neither prefix can be part
// of it. Both the URL-encoding RFC 6960 A.1 calls for and its lack (a raw
// "+" that became a space) are accepted.
func getRequest(r *http.Request) []byte {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	p = strings.TrimPrefix(p, "ocsp/")
	s, err := url.PathUnescape(p)
	if err != nil {
		return nil
	}
	s = strings.ReplaceAll(s, " ", "+")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// ocspResponse answers req, or returns an error response and an error.
func (c *CA) ocspResponse(ctx context.Context, req *ocsp.Request, lookup StatusLookup) ([]byte, error) {
	issuer := c.Issuer()
	if !req.HashAlgorithm.Available() {
		return ocsp.MalformedRequestErrorResponse, errors.New("hash not available")
	}
	h := req.HashAlgorithm.New()
	h.Write(issuer.RawSubject)
	nameHash := h.Sum(nil)
	if !bytesEqual(nameHash, req.IssuerNameHash) || !bytesEqual(issuerKeyHash(issuer, req), req.IssuerKeyHash) {
		return ocsp.UnauthorizedErrorResponse, errors.New("not our issuer")
	}
	st, err := lookup.CertStatus(ctx, req.SerialNumber)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	now := c.clk.Now().Truncate(time.Second)
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		IssuerHash:   req.HashAlgorithm,
		ThisUpdate:   now,
		NextUpdate:   now.Add(OCSPValidity),
		Status:       ocsp.Good,
	}
	switch {
	case !st.Known:
		tmpl.Status = ocsp.Unknown
	case st.Revoked:
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = st.RevokedAt.UTC().Truncate(time.Second)
		tmpl.RevocationReason = st.Reason
	}
	resp, err := ocsp.CreateResponse(issuer, issuer, tmpl, c.key)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	return resp, nil
}

// issuerKeyHash is the hash of the issuer's subjectPublicKey BIT STRING
// contents, with the request's hash algorithm (RFC 6960 4.1.1).
func issuerKeyHash(issuer *x509.Certificate, req *ocsp.Request) []byte {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	h := req.HashAlgorithm.New()
	h.Write(spki.PublicKey.RightAlign())
	return h.Sum(nil)
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func writeOCSP(w http.ResponseWriter, body []byte, maxAge int) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	if maxAge > 0 {
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(maxAge)+", public, no-transform, must-revalidate")
	} else {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Write(body)
}
