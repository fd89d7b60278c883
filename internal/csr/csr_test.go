package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
)

// Keys are expensive to make under -race: each test shares these.
var (
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	ecKey  = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P256()) })
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// makeCSR returns a CSR's DER for a template signed by key.
func makeCSR(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func simple(cn string, sans ...string) *x509.CertificateRequest {
	return &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: sans}
}

// wantCode fails unless err is an *Error with code and the vendor's message.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want csr error %d", err, code)
	}
	if e.Code != code || e.Message != messages[code] || e.Message == "" {
		t.Fatalf("got %d %q, want %d %q", e.Code, e.Message, code, messages[code])
	}
}

func TestParseForms(t *testing.T) {
	t.Parallel()
	der := makeCSR(t, ecKey(), simple("example.com"))
	p := pemOf(der)
	b64 := base64.StdEncoding.EncodeToString(der)
	body := strings.TrimSuffix(strings.TrimPrefix(p, "-----BEGIN CERTIFICATE REQUEST-----\n"), "-----END CERTIFICATE REQUEST-----\n")
	forms := map[string]string{
		"pem":             p,
		"pem crlf":        strings.ReplaceAll(p, "\n", "\r\n"),
		"new armour":      strings.ReplaceAll(p, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
		"no armour":       body,
		"bare base64":     b64,
		"unpadded":        strings.TrimRight(b64, "="),
		"spaced":          "  " + b64[:10] + " \t" + b64[10:] + "\n",
		"text before pem": "my csr:\n" + p,
	}
	for name, text := range forms {
		if name == "text before pem" {
			continue // checked below: text outside the armour is not base64
		}
		r, err := Parse(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(r.DER) != string(der) || r.Subject.CommonName != "example.com" {
			t.Fatalf("%s: decoded something else", name)
		}
	}
	_, err := Parse(forms["text before pem"])
	wantCode(t, err, CodeNotBase64)
}

func TestParseRefusals(t *testing.T) {
	t.Parallel()
	der := makeCSR(t, ecKey(), simple("example.com"))
	b64 := base64.StdEncoding.EncodeToString(der)
	cert := selfSigned(t)
	for name, tc := range map[string]struct {
		text string
		code int
	}{
		"not base64":         {"this is not a CSR!", CodeNotBase64},
		"url-safe alphabet":  {strings.NewReplacer("+", "-", "/", "_").Replace(b64) + "-_", CodeNotBase64},
		"padding inside":     {b64[:8] + "=" + b64[8:], CodeNotBase64},
		"over 32767":         {strings.Repeat("A", MaxLen+1), CodeNotBase64},
		"empty":              {"", CodeUndecodable},
		"only armour":        {"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n", CodeUndecodable},
		"base64 of text":     {base64.StdEncoding.EncodeToString([]byte("hello, world")), CodeUndecodable},
		"truncated":          {base64.StdEncoding.EncodeToString(der[:len(der)-10]), CodeUndecodable},
		"trailing data":      {base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), 0, 0)), CodeUndecodable},
		"a certificate":      {base64.StdEncoding.EncodeToString(cert), CodeUndecodable},
		"unterminated armor": {"-----BEGIN CERTIFICATE REQUEST\n" + b64, CodeNotBase64},
	} {
		_, err := Parse(tc.text)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		t.Run(name, func(t *testing.T) { wantCode(t, err, tc.code) })
	}
}

func selfSigned(t *testing.T) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ecKey().Public(), ecKey())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// badSigner stands for a key nobody can sign with: makeCSR gives a CSR
// for its public key with a garbage signature.
type badSigner struct{ pub crypto.PublicKey }

func (s badSigner) Public() crypto.PublicKey { return s.pub }
func (s badSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("badSigner cannot sign")
}

// The shape of a PKCS#10 request, enough to forge one in tests.
type rawCSR struct {
	TBS    rawTBS
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}
type rawTBS struct {
	Version   int
	Subject   asn1.RawValue
	PublicKey asn1.RawValue
	Attrs     asn1.RawValue
}

// forge signs tmpl with a real key, then puts pub in place of its key and
// sigAlg (when not nil) in place of its algorithm, leaving a signature that
// cannot verify. CreateCertificateRequest checks its own signature, so
// this is the way to a CSR for a key nobody holds.
func forge(t testing.TB, pub crypto.PublicKey, sigAlg asn1.ObjectIdentifier, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	var c rawCSR
	if _, err := asn1.Unmarshal(makeCSR(t, ecKey(), tmpl), &c); err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	c.TBS.PublicKey = asn1.RawValue{FullBytes: spki}
	if sigAlg != nil {
		c.SigAlg = pkix.AlgorithmIdentifier{Algorithm: sigAlg, Parameters: asn1.NullRawValue}
	}
	c.Sig.Bytes[len(c.Sig.Bytes)-1] ^= 1
	der, err := asn1.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func checkErr(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest, rules Rules) error {
	t.Helper()
	var der []byte
	if b, ok := key.(badSigner); ok {
		der = forge(t, b.pub, nil, tmpl)
	} else {
		der = makeCSR(t, key, tmpl)
	}
	r, err := Parse(pemOf(der))
	if err != nil {
		t.Fatal(err)
	}
	return r.Check(rules)
}

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		key   crypto.Signer
		tmpl  *x509.CertificateRequest
		rules Rules
	}{
		"rsa 2048":          {rsaKey(), simple("example.com", "www.example.com"), Rules{}},
		"ec p256":           {ecKey(), simple("example.com"), Rules{}},
		"ec p384":           {mustEC(elliptic.P384()), simple("example.com"), Rules{}},
		"wildcard product":  {ecKey(), simple("*.example.com"), Rules{Wildcard: true}},
		"sans only":         {ecKey(), simple("", "example.com"), Rules{}},
		"intranet name":     {ecKey(), simple("server1"), Rules{Intranet: true}},
		"intranet 10/8":     {ecKey(), simple("10.1.2.3"), Rules{Intranet: true}},
		"intranet cgnat":    {ecKey(), simple("100.64.1.1"), Rules{Intranet: true}},
		"intranet loopback": {ecKey(), simple("::1"), Rules{Intranet: true}},
		// Go verifies SHA-1 signatures on requests; the certificate is
		// signed by the CA with SHA-256 whatever signed the request.
		"sha1 signature": {rsaKey(), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, SignatureAlgorithm: x509.SHA1WithRSA}, Rules{}},
	} {
		if err := checkErr(t, tc.key, tc.tmpl, tc.rules); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckRefusals(t *testing.T) {
	t.Parallel()
	bl := &Blocklist{spki: map[[32]byte]bool{}, debian: map[string]bool{}}
	blocked := mustEC(elliptic.P256())
	if err := bl.Add(blocked.Public()); err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	big9000 := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 9000), big.NewInt(1)), E: 65537}
	evenExp := &rsa.PublicKey{N: rsaKey().N, E: 65536}
	smallExp := &rsa.PublicKey{N: rsaKey().N, E: 3}
	factor3 := &rsa.PublicKey{N: new(big.Int).Mul(rsaKey().N, big.NewInt(3)), E: 65537}
	for name, tc := range map[string]struct {
		key   crypto.Signer
		tmpl  *x509.CertificateRequest
		rules Rules
		code  int
	}{
		"wildcard cn, plain product":  {ecKey(), simple("*.example.com"), Rules{}, CodeWildcardNotAllowed},
		"plain cn, wildcard product":  {ecKey(), simple("example.com"), Rules{Wildcard: true}, CodeWildcardRequired},
		"two wildcards":               {ecKey(), simple("*.*.example.com"), Rules{Wildcard: true}, CodeWildcardRequired},
		"inner wildcard":              {ecKey(), simple("a.*.example.com"), Rules{Wildcard: true}, CodeWildcardRequired},
		"no cn, no names":             {ecKey(), &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"x"}}}, Rules{}, CodeMissingField},
		"ed25519":                     {edKey, simple("example.com"), Rules{}, CodeAlgorithm},
		"bad signature":               {badSigner{ecKey().Public()}, simple("example.com"), Rules{}, CodeSignature},
		"rsa 1024":                    {mustRSA(1024), simple("example.com"), Rules{}, CodeKeySize},
		"rsa over 8192":               {badSigner{big9000}, simple("example.com"), Rules{}, CodeKeySize},
		"even exponent":               {badSigner{evenExp}, simple("example.com"), Rules{}, CodeKeySize},
		"exponent 3":                  {badSigner{smallExp}, simple("example.com"), Rules{}, CodeKeySize},
		"ec p521":                     {mustEC(elliptic.P521()), simple("example.com"), Rules{}, CodeKeySize},
		"ec p224":                     {badSigner{mustEC(elliptic.P224()).Public()}, simple("example.com"), Rules{}, CodeKeySize},
		"ip cn":                       {ecKey(), simple("192.0.2.1"), Rules{}, CodeIPAddress},
		"ipv6 cn":                     {ecKey(), simple("2001:db8::1"), Rules{}, CodeIPAddress},
		"intranet public ip":          {ecKey(), simple("8.8.8.8"), Rules{Intranet: true}, CodePublicIP},
		"intranet fqdn":               {ecKey(), simple("www.example.com"), Rules{Intranet: true}, CodeFQDNNotAllowed},
		"operator blocklist":          {blocked, simple("example.com"), Rules{Blocklist: bl}, CodeCompromisedKey},
		"modulus with a small factor": {badSigner{factor3}, simple("example.com"), Rules{}, CodeCompromisedKey},
		"close primes (fermat)":       {badSigner{closePrimes(t)}, simple("example.com"), Rules{}, CodeCompromisedKey},
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, checkErr(t, tc.key, tc.tmpl, tc.rules), tc.code)
		})
	}
}

// closePrimes is an RSA key whose two primes are neighbours: Fermat's
// method factors it in one round.
func closePrimes(t *testing.T) *rsa.PublicKey {
	p, err := rand.Prime(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	q := new(big.Int).Add(p, big.NewInt(2))
	for !q.ProbablyPrime(20) {
		q.Add(q, big.NewInt(2))
	}
	return &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}
}

func TestCheckInsecureSignatureAlgorithm(t *testing.T) {
	t.Parallel()
	md5WithRSA := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	r, err := Parse(pemOf(forge(t, rsaKey().Public(), md5WithRSA, simple("example.com"))))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.Check(Rules{}), CodeAlgorithm)
}

func TestProblemsOrderKeyBeforeSignature(t *testing.T) {
	t.Parallel()
	// A weak key with a bad signature is refused for the key: the key is
	// checked first, whatever signed the request.
	r, err := Parse(pemOf(forge(t, &rsa.PublicKey{N: rsaKey().N, E: 3}, nil, simple("*.example.com"))))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Problems(Rules{})
	if len(p) != 1 || p[0].Code != CodeKeySize {
		t.Fatalf("got %v", p)
	}
}

func TestBlocklistFile(t *testing.T) {
	t.Parallel()
	pub := mustEC(elliptic.P256())
	h, _ := SPKIHash(pub.Public())
	certKey := mustEC(elliptic.P256())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1)}
	certDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, certKey.Public(), certKey)
	csrKey := mustEC(elliptic.P384())
	csrDER := makeCSR(t, csrKey, simple("x.example"))
	pkDER, _ := x509.MarshalPKIXPublicKey(rsaKey().Public())
	file := "# compromised keys\n\n" + strings.ToUpper(hexOf(h[:])) + "\n" +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})) +
		"  " + DebianFingerprint(&mustRSA(2048).PublicKey) + "  \n" +
		pemOf(csrDER) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkDER}))
	bl, err := ParseBlocklist(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if bl.Len() != 5 {
		t.Fatalf("len %d, want 5", bl.Len())
	}
	for name, k := range map[string]any{"hash line": pub.Public(), "certificate": certKey.Public(), "csr": csrKey.Public(), "public key": rsaKey().Public()} {
		if !bl.Contains(k) {
			t.Errorf("%s: not blocked", name)
		}
	}
	if bl.Contains(ecKey().Public()) {
		t.Error("an unlisted key is blocked")
	}
	var nilList *Blocklist
	if nilList.Contains(pub.Public()) || nilList.Len() != 0 {
		t.Error("a nil blocklist blocks")
	}
	for _, bad := range []string{"abc\n", "# ok\nnot hex at all\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "-----BEGIN PUBLIC KEY-----\n"} {
		if _, err := ParseBlocklist(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("%q: error %q names no line", bad, err)
		}
	}
}

func TestDebianFingerprint(t *testing.T) {
	t.Parallel()
	// The format of openssl-blacklist: sha1("Modulus=<HEX>\n")[20:], here
	// for the modulus 0xC5 (checked with: printf 'Modulus=C5\n' | sha1sum).
	got := DebianFingerprint(&rsa.PublicKey{N: big.NewInt(0xC5), E: 65537})
	if got != "8faac7e795b2ab19cfc2" {
		t.Fatalf("got %s", got)
	}
	k := mustRSA(2048)
	bl, err := ParseBlocklist(strings.NewReader(DebianFingerprint(&k.PublicKey) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, checkErr(t, k, simple("example.com"), Rules{Blocklist: bl}), CodeCompromisedKey)
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestNames(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tmpl   *x509.CertificateRequest
		want   string
		single string
	}{
		"cn and sans":       {simple("Example.COM.", "www.example.com", "EXAMPLE.com", "shop.example.com"), "example.com www.example.com shop.example.com", "example.com www.example.com"},
		"www cn":            {simple("www.example.com"), "www.example.com", "www.example.com example.com"},
		"sub cn":            {simple("mail.example.co.uk"), "mail.example.co.uk", "mail.example.co.uk www.mail.example.co.uk"},
		"wildcard":          {simple("*.Example.com"), "*.example.com", "*.example.com example.com"},
		"idn":               {simple("bücher.example"), "xn--bcher-kva.example", "xn--bcher-kva.example www.xn--bcher-kva.example"},
		"no cn":             {simple("", "b.example.com", "a.example.com"), "b.example.com a.example.com", "b.example.com www.b.example.com"},
		"www of a suffix":   {simple("www.co.uk"), "www.co.uk", "www.co.uk"},
		"email san ignored": {&x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, EmailAddresses: []string{"a@example.com"}}, "example.com", "example.com www.example.com"},
	} {
		r, err := Parse(pemOf(makeCSR(t, ecKey(), tc.tmpl)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Names()
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: Names %v %v, want %s", name, got, err, tc.want)
		}
		single, err := r.SingleDomainNames()
		if err != nil || strings.Join(single, " ") != tc.single {
			t.Errorf("%s: SingleDomainNames %v %v, want %s", name, single, err, tc.single)
		}
	}
	for name, tmpl := range map[string]*x509.CertificateRequest{
		"ip san":          {Subject: pkix.Name{CommonName: "example.com"}, IPAddresses: []net.IP{net.IPv4(192, 0, 2, 1)}},
		"public suffix":   simple("co.uk"),
		"wildcard suffix": simple("*.com"),
		"bad label":       simple("exa_mple.com"),
		"space":           simple("example.com", "bad name.example.com"),
		"no dot":          simple("localhost"),
	} {
		r, err := Parse(pemOf(makeCSR(t, ecKey(), tmpl)))
		if err != nil {
			t.Fatal(err)
		}
		var ne *NameError
		if _, err := r.Names(); !errors.As(err, &ne) {
			t.Errorf("%s: got %v, want a NameError", name, err)
		}
	}
}

func TestHashes(t *testing.T) {
	t.Parallel()
	// The DER of a fixed request, so the expected values are independent
	// of this package (computed with openssl req -outform DER | md5sum,
	// sha256sum): a CSR is "AB" to the hashing.
	r := &Request{DER: []byte("AB")}
	h := r.Hashes()
	if h.MD5 != "B86FC6B051F63D73DE262D4C34E3A0A9" || h.SHA256 != "38164FBD17603D73F696B8B4D72664D735BB6A7C88577687FD2AE33FD6964153" {
		t.Fatalf("got %+v", h)
	}
	if p := h.HTTPPath(); p != "/.well-known/pki-validation/B86FC6B051F63D73DE262D4C34E3A0A9.txt" {
		t.Fatalf("path %s", p)
	}
	if c := h.HTTPContent("abc123"); c != "38164FBD17603D73F696B8B4D72664D735BB6A7C88577687FD2AE33FD6964153\nsectigo.com\nabc123" {
		t.Fatalf("content %q", c)
	}
	if c := h.HTTPContent(""); c != "38164FBD17603D73F696B8B4D72664D735BB6A7C88577687FD2AE33FD6964153\nsectigo.com" {
		t.Fatalf("content %q", c)
	}
	name, target := h.CNAME("example.com.", "abc123")
	if name != "_B86FC6B051F63D73DE262D4C34E3A0A9.example.com." ||
		target != "38164FBD17603D73F696B8B4D72664D7.35BB6A7C88577687FD2AE33FD6964153.abc123.sectigo.com." {
		t.Fatalf("cname %s %s", name, target)
	}
	if _, target := h.CNAME("example.com", ""); target != "38164FBD17603D73F696B8B4D72664D7.35BB6A7C88577687FD2AE33FD6964153.sectigo.com." {
		t.Fatalf("cname without unique value: %s", target)
	}
}

func TestUniqueValue(t *testing.T) {
	t.Parallel()
	a, b := NewUniqueValue(), NewUniqueValue()
	if a == b || !ValidUniqueValue(a) || len(a) != 16 {
		t.Fatalf("%q %q", a, b)
	}
	for s, want := range map[string]bool{"abc": true, "A1b2C3d4E5f6G7h8I9j0": true, "A1b2C3d4E5f6G7h8I9j0x": false, "": false, "ab-c": false, "ab c": false, "ü": false} {
		if ValidUniqueValue(s) != want {
			t.Errorf("%q: want %v", s, want)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "*.example.com", Organization: []string{"Example Ltd"}, Country: []string{"GB"},
			Province: []string{"Kent\nS=forged"}, ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "hostmaster@example.com"}}},
		DNSNames: []string{"example.com", "www.example.com"},
	}
	der := makeCSR(t, rsaKey(), tmpl)
	d := Decode(pemOf(der), nil)
	if len(d.Errors) != 0 {
		t.Fatalf("errors %v", d.Errors)
	}
	text := d.Text(false)
	r, _ := Parse(pemOf(der))
	h := r.Hashes()
	for _, want := range []string{"0\nCN=*.example.com\nO=Example Ltd\nS=Kent S=forged\nC=GB\nEmail=hostmaster@example.com\nPublic Key=30820122", "\nKey Size=2048\ndnsName=example.com\ndnsName=www.example.com\nmd5=" + h.MD5 + "\nsha1="} {
		if !strings.Contains(text, want) {
			t.Fatalf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "OU=") || !strings.Contains(d.Text(true), "\nOU=\n") {
		t.Fatalf("empty fields: %s", d.Text(true))
	}
	// Errors come first, each with its code; an undecodable CSR has no fields.
	bad := Decode("not base64!", nil)
	if got := bad.Text(false); got != "1\n-9 The CSR is not valid Base-64 data!\n" {
		t.Fatalf("got %q", got)
	}
	weak := Decode(pemOf(makeCSR(t, mustRSA(1024), simple("192.0.2.1"))), nil)
	if !strings.HasPrefix(weak.Text(false), "1\n-13 The CSR uses an unsupported key size!\nCN=192.0.2.1\n") {
		t.Fatalf("got %q", weak.Text(false))
	}
	ip := Decode(pemOf(makeCSR(t, ecKey(), simple("192.0.2.1"))), nil)
	if !strings.HasPrefix(ip.Text(false), "1\n-35 ") || !strings.Contains(ip.Text(false), "Key Size=256\n") {
		t.Fatalf("got %q", ip.Text(false))
	}
}
