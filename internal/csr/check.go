package csr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// Rules are what the product asks of a CSR.
type Rules struct {
	// Wildcard is set for wildcard products: the CN must hold exactly one
	// wildcard, as its first label (-6). For other products the CN may hold
	// none (-5).
	Wildcard bool
	// Intranet is set for intranet products: their CN may not be a
	// Fully-Qualified Domain Name (-18) nor a public IP address (-19), but
	// may be a private one. For every other product an IP address CN is -35.
	Intranet bool
	// Blocklist holds the keys the operator knows to be compromised (-40).
	// Nil blocks none beyond the keys this package finds weak on its own.
	Blocklist *Blocklist

	// anyWildcard skips the wildcard rule, for DecodeCSR, where no
	// product is known.
	anyWildcard bool
}

// Check applies the vendor's CSR checks in dcvmail's order (the vendor's own
// order is not published): the algorithm (-11), the key size (-13), a
// compromised key (-40), the signature (-12), a missing field (-8), then the
// Common Name (-35/-19, -18, -5/-6). It returns the first refusal as *Error,
// or nil.
func (r *Request) Check(rules Rules) error {
	if p := r.Problems(rules); len(p) > 0 {
		return p[0]
	}
	return nil
}

// Problems is every refusal Check would make, in order (DecodeCSR lists
// them all). The key and signature checks stop at the first failure, since
// later ones mean nothing without them.
func (r *Request) Problems(rules Rules) []*Error {
	if e := r.checkKey(rules.Blocklist); e != nil {
		return []*Error{e}
	}
	if err := r.CheckSignature(); err != nil {
		var insecure x509.InsecureAlgorithmError
		if errors.As(err, &insecure) || errors.Is(err, x509.ErrUnsupportedAlgorithm) {
			return []*Error{fail(CodeAlgorithm, "signature algorithm "+r.SignatureAlgorithm.String())}
		}
		return []*Error{fail(CodeSignature, "")}
	}
	cn := r.Subject.CommonName
	if cn == "" {
		if len(r.DNSNames) == 0 {
			return []*Error{fail(CodeMissingField, "no Common Name and no DNS name")}
		}
		// A request with names only in its SANs is accepted and its
		// first DNS name stands in for the CN: dcvmail's choice
		// (unconfirmed), since RFC 5280 and the BR let a CSR carry its
		// names in the SAN alone.
		cn = r.DNSNames[0]
	}
	var out []*Error
	if e := checkCommonName(cn, rules); e != nil {
		out = append(out, e)
	}
	return out
}

func checkCommonName(cn string, rules Rules) *Error {
	if ip, err := netip.ParseAddr(strings.Trim(cn, "[]")); err == nil {
		if !rules.Intranet {
			return fail(CodeIPAddress, "")
		}
		if isPublic(ip) {
			return fail(CodePublicIP, "")
		}
		return nil
	}
	if rules.Intranet && strings.Contains(strings.TrimSuffix(cn, "."), ".") {
		return fail(CodeFQDNNotAllowed, "")
	}
	stars := strings.Count(cn, "*")
	if rules.anyWildcard {
		return nil
	}
	if rules.Wildcard {
		if stars != 1 || !strings.HasPrefix(cn, "*.") {
			return fail(CodeWildcardRequired, "")
		}
	} else if stars > 0 {
		return fail(CodeWildcardNotAllowed, "")
	}
	return nil
}

// isPublic reports whether an address is reachable on the internet: not
// private, loopback, link-local, unspecified or the like.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !(ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || sharedAddressSpace.Contains(ip))
}

// sharedAddressSpace is RFC 6598's carrier-grade NAT range: not on the internet.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// checkKey refuses keys of an unsupported algorithm or size and keys known
// or found to be weak.
func (r *Request) checkKey(bl *Blocklist) *Error {
	switch k := r.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return fail(CodeKeySize, fmt.Sprintf("RSA key of %d bits: 2048 to 8192 are accepted", n))
		}
		// BR 6.1.6: an odd exponent from 2^16+1 to 2^256-1. Others are
		// refused as the linter would refuse the certificate anyway.
		if k.E%2 == 0 || k.E < 65537 {
			return fail(CodeKeySize, fmt.Sprintf("RSA public exponent %d: an odd exponent of at least 65537 is required", k.E))
		}
		if why := weakRSA(k.N); why != "" {
			return fail(CodeCompromisedKey, why)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fail(CodeKeySize, "EC key on "+k.Curve.Params().Name+": P-256 and P-384 are accepted")
		}
	default:
		return fail(CodeAlgorithm, "public key algorithm "+r.PublicKeyAlgorithm.String()+": RSA and ECDSA are accepted")
	}
	if bl.Contains(r.PublicKey) {
		return fail(CodeCompromisedKey, "the key is on the operator's blocklist")
	}
	return nil
}

// smallPrimes is the product of the primes below 752: BR 6.1.6 says an RSA
// modulus should have no factor that small.
var smallPrimes = func() *big.Int {
	p := big.NewInt(1)
	for i := int64(2); i < 752; i++ {
		if big.NewInt(i).ProbablyPrime(0) {
			p.Mul(p, big.NewInt(i))
		}
	}
	return p
}()

// fermatRounds bounds the search for factors close to the square root, as
// Boulder's key policy does: keys whose primes are close together (made by
// broken generators) fall within a few rounds.
const fermatRounds = 100

// weakRSA names a flaw that makes an RSA modulus factorable, or "".
func weakRSA(n *big.Int) string {
	if n.Bit(0) == 0 {
		return "the RSA modulus is even"
	}
	if new(big.Int).GCD(nil, nil, n, smallPrimes).Cmp(big.NewInt(1)) != 0 {
		return "the RSA modulus has a factor below 752"
	}
	// Fermat: look for a with a*a - n a square b*b, so n = (a-b)(a+b).
	a := new(big.Int).Sqrt(n)
	if new(big.Int).Mul(a, a).Cmp(n) == 0 {
		return "the RSA modulus is a square"
	}
	a.Add(a, big.NewInt(1))
	b2, b := new(big.Int), new(big.Int)
	for i := 0; i < fermatRounds; i++ {
		b2.Mul(a, a)
		b2.Sub(b2, n)
		b.Sqrt(b2)
		if new(big.Int).Mul(b, b).Cmp(b2) == 0 {
			return "the RSA modulus factors by Fermat's method"
		}
		a.Add(a, big.NewInt(1))
	}
	return ""
}
