package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// LintSources are the zlint sources whose errors and warnings stop
// issuance: RFC 5280 and the CA/Browser Forum's documents. Other sources
// (root programmes' policies, the community's lints, ETSI) are not run: a
// test CA is in no root programme.
var LintSources = lint.SourceList{
	lint.RFC5280,
	lint.CABFBaselineRequirements,
	lint.CABFEVGuidelines,
	lint.CABFSMIMEBaselineRequirements,
	lint.CABFCSBaselineRequirements,
}

// Waived are the lints of LintSources that are not run, each with the
// reason. Boulder waives the same ones.
var Waived = map[string]string{
	// RFC 5280 says SHOULD include a subject key identifier; BR 7.1.2.7.6
	// says NOT RECOMMENDED in subscriber certificates, and zlint's
	// w_ext_subject_key_identifier_not_recommended_subscriber warns when it
	// is there: one of the two always warns. The BR profile wins.
	"w_ext_subject_key_identifier_missing_sub_cert": "contradicts BR 7.1.2.7.6, which the certificate follows",
	// BR 7.1.2.7.2 allows the CN and calls it NOT RECOMMENDED; the
	// vendor's certificates carry it and dcvmail's contract (docs/api.md)
	// puts the primary name there.
	"w_subject_common_name_included": "the contract puts the primary name in the CN, which BR 7.1.2.7.2 allows",
}

// waivedInternal is waived only for a CA whose URLs are not on a public
// name (a demo on localhost): its AIA cannot be anything else.
const waivedInternal = "w_sub_cert_aia_contains_internal_names"

var registries sync.Map // bool (internal names waived) → lint.Registry

// registry is the lint registry: LintSources less Waived, and less
// waivedInternal when internal is set.
func registry(internal bool) (lint.Registry, error) {
	if r, ok := registries.Load(internal); ok {
		return r.(lint.Registry), nil
	}
	exclude := make([]string, 0, len(Waived)+1)
	for name := range Waived {
		exclude = append(exclude, name)
	}
	if internal {
		exclude = append(exclude, waivedInternal)
	}
	r, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: LintSources, ExcludeNames: exclude})
	if err != nil {
		return nil, err
	}
	registries.Store(internal, r)
	return r, nil
}

// LintError is a certificate that failed the linter before it was signed:
// nothing was issued. Findings are "lint_name: status" lines, sorted.
type LintError struct {
	Findings []string
}

func (e *LintError) Error() string {
	return "ca: the certificate fails the linter, so it was not signed: " + strings.Join(e.Findings, "; ")
}

// linter signs certificates only after a copy of them, signed with a
// throwaway key (see fast), has passed zlint. So a
// certificate that breaks the profile is never signed by the CA's key, as
// Boulder does it.
type linter struct {
	throwaway crypto.Signer
	// fast, when the real key is ECDSA, is a P-256 throwaway key that
	// signs the linted copies of certificates the real key issues to
	// others, with alg, the real key's signature algorithm: the copy's
	// TBSCertificate is the real one byte for byte, and only its
	// signature's bytes differ, which no lint of LintSources reads
	// (Mozilla's e_mp_ecdsa_signature_encoding_correct would; a test
	// checks it is not run). P-384 costs far more than P-256 to sign and
	// to verify (which x509.CreateCertificate does after signing) in Go:
	// an issuance took 1.97 ms of CPU with a P-384 copy, 1.36 ms with this
	// (BenchmarkIssue).
	fast crypto.Signer
	alg  x509.SignatureAlgorithm
	// internalURLs is set when the CA's URLs are on a name that is not
	// public, which waives waivedInternal.
	internalURLs bool
}

func newLinter(real crypto.Signer, internalURLs bool) (*linter, error) {
	l := &linter{internalURLs: internalURLs}
	var err error
	switch pub := real.Public().(type) {
	case *ecdsa.PublicKey:
		if l.throwaway, err = ecdsa.GenerateKey(pub.Curve, rand.Reader); err != nil {
			return nil, err
		}
		l.fast, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		// crypto/x509's choice for each curve.
		l.alg = map[int]x509.SignatureAlgorithm{256: x509.ECDSAWithSHA256, 384: x509.ECDSAWithSHA384, 521: x509.ECDSAWithSHA512}[pub.Curve.Params().BitSize]
		if l.alg == x509.UnknownSignatureAlgorithm {
			return nil, fmt.Errorf("ca: an ECDSA key on %s: want P-256, P-384 or P-521", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		l.throwaway, err = rsa.GenerateKey(rand.Reader, pub.N.BitLen())
	default:
		return nil, fmt.Errorf("ca: a %T key: want RSA or ECDSA", pub)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// sign lints tmpl as parent would issue it to pub, then signs it with
// signer, parent's key. A template whose parent is itself is self-signed.
func (l *linter) sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	der, err := l.copyOf(tmpl, parent, pub)
	if err != nil {
		return nil, fmt.Errorf("ca: the certificate cannot be made: %w", err)
	}
	if err := lintCert(der, l.internalURLs); err != nil {
		return nil, err
	}
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

// copyOf is the copy of tmpl that is linted: as parent would issue it to
// pub, but signed with a throwaway key.
func (l *linter) copyOf(tmpl, parent *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	// The stand-in parent differs from the real one only in its key, so
	// the issuer name, the authority key identifier and the signature
	// algorithm of the linted copy are the real ones.
	fakeParent := *parent
	fakeParent.PublicKey = l.throwaway.Public()
	subjectKey, copySigner, copyTmpl := pub, l.throwaway, tmpl
	if parent == tmpl {
		// Self-signed: the copy is self-signed by the throwaway key. Its
		// subject key identifier comes from the throwaway key, which
		// changes nothing that the lints look at.
		fakeParent = *tmpl
		subjectKey = l.throwaway.Public()
	} else if l.fast != nil && tmpl.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		t := *tmpl
		t.SignatureAlgorithm = l.alg
		fakeParent.PublicKey = l.fast.Public()
		copySigner, copyTmpl = l.fast, &t
	}
	return x509.CreateCertificate(rand.Reader, copyTmpl, &fakeParent, subjectKey, copySigner)
}

// Lint runs zlint's LintSources, less Waived, on a certificate and returns
// a *LintError for any warning, error or fatal finding.
func Lint(der []byte) error { return lintCert(der, false) }

func lintCert(der []byte, internalURLs bool) error {
	reg, err := registry(internalURLs)
	if err != nil {
		return fmt.Errorf("ca: zlint registry: %w", err)
	}
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("ca: zlint cannot parse the certificate: %w", err)
	}
	return findings(zlint.LintCertificateEx(c, reg))
}

// LintCRL runs zlint's LintSources on a CRL, as Lint does on certificates.
func LintCRL(der []byte) error {
	reg, err := registry(false)
	if err != nil {
		return fmt.Errorf("ca: zlint registry: %w", err)
	}
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("ca: zlint cannot parse the CRL: %w", err)
	}
	return findings(zlint.LintRevocationListEx(crl, reg))
}

func findings(rs *zlint.ResultSet) error {
	var out []string
	for name, r := range rs.Results {
		if r.Status >= lint.Warn {
			f := name + ": " + r.Status.String()
			if r.Details != "" {
				f += " (" + r.Details + ")"
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return &LintError{Findings: out}
}

// IsLintError reports whether err is a *LintError.
func IsLintError(err error) bool {
	var le *LintError
	return errors.As(err, &le)
}
