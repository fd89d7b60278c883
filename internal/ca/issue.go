package ca

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// The CA/Browser Forum's reserved policy identifiers (BR 7.1.6.1) and
// anyPolicy (RFC 5280 4.2.1.4), which the issuing CA carries since it
// issues all three kinds.
var (
	oidPolicyDV  = mustOID(2, 23, 140, 1, 2, 1)
	oidPolicyOV  = mustOID(2, 23, 140, 1, 2, 2)
	oidPolicyEV  = mustOID(2, 23, 140, 1, 1)
	oidAnyPolicy = mustOID(2, 5, 29, 32, 0)
)

func mustOID(ints ...uint64) x509.OID {
	o, err := x509.OIDFromInts(ints)
	if err != nil {
		panic(err)
	}
	return o
}

// Validation is what was validated before issuance: it selects the
// certificate policy and what the subject may hold.
type Validation string

// The validation levels of the TLS profile.
const (
	DV Validation = "DV" // domain control only: the subject holds only the CN
	OV Validation = "OV" // and the organization: subject O, L or ST, C
	EV Validation = "EV" // Extended Validation: subject by EVG 7.1.4.2
)

// IssueRequest is what to put in a certificate.
type IssueRequest struct {
	// PublicKey is the subscriber's key, from the CSR.
	PublicKey crypto.PublicKey
	// Names are the certificate's DNS names, normalized; the first is the
	// primary name, the subject CN (left out when longer than the 64
	// characters a CN may hold).
	Names []string
	// Validation selects the policy; OV and EV take Subject's fields.
	Validation Validation
	// Subject carries the organization's fields for OV and EV
	// (Organization, Locality, Province, Country, and for EV SerialNumber
	// and the jurisdiction and business category in ExtraNames). Its
	// CommonName is ignored. For DV it is ignored whole.
	Subject pkix.Name
	// Days is the validity asked for; ValidityDays caps it (0 = the most).
	Days int
}

// Issue makes a certificate by the BR profile (docs/api.md, the test CA):
// a random 126-bit serial, CN the primary name, every name in the SAN, key
// usage digitalSignature (and keyEncipherment for RSA keys), EKU
// serverAuth only, the DV/OV/EV policy, AIA with the OCSP and caIssuers
// URLs, the CRL distribution point, and a validity from now of at most
// MaxValidity at now. The certificate is linted before it is signed; a
// finding is a *LintError and nothing is signed.
func (c *CA) Issue(req IssueRequest) (*x509.Certificate, error) {
	tmpl, err := c.leafTemplate(req)
	if err != nil {
		return nil, err
	}
	der, err := c.lint.sign(tmpl, c.Issuer(), req.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func (c *CA) leafTemplate(req IssueRequest) (*x509.Certificate, error) {
	if len(req.Names) == 0 {
		return nil, errors.New("ca: a certificate needs at least one name")
	}
	if req.PublicKey == nil {
		return nil, errors.New("ca: no public key")
	}
	now := c.clk.Now().Truncate(time.Second)
	days := ValidityDays(req.Days, 0, now)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		NotBefore:    now,
		// RFC 5280 counts both ends: a validity of n days ends one second
		// before n×24 hours have passed.
		NotAfter:              now.Add(time.Duration(days)*24*time.Hour - time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              append([]string(nil), req.Names...),
		OCSPServer:            []string{c.cfg.OCSPURL},
		IssuingCertificateURL: []string{c.cfg.IssuerURL},
		CRLDistributionPoints: []string{c.cfg.CRLURL},
	}
	if _, ok := req.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	switch req.Validation {
	case DV:
		tmpl.Policies = []x509.OID{oidPolicyDV}
	case OV:
		tmpl.Policies = []x509.OID{oidPolicyOV}
		tmpl.Subject = req.Subject
	case EV:
		tmpl.Policies = []x509.OID{oidPolicyEV}
		tmpl.Subject = req.Subject
	default:
		return nil, fmt.Errorf("ca: validation %q: want DV, OV or EV", req.Validation)
	}
	tmpl.Subject.CommonName = ""
	if len(req.Names[0]) <= 64 {
		tmpl.Subject.CommonName = req.Names[0]
	}
	return tmpl, nil
}
