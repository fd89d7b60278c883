package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
)

// TestOVWaitsForOrganization: an OV order is not issued on DCV alone; once
// the organization is marked validated it is, with the OV policy and the
// CSR's organization in the subject.
func TestOVWaitsForOrganization(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrPEM := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "shop.example.com",
		Organization: []string{"Example Ltd"}, Locality: []string{"London"}, Country: []string{"GB"}}}, key)
	f.offer("shop.example.com")
	got := parseForm(t, f.Post(applyPath, f.as("product", "24", "serverSoftware", "-1", "csr", csrPEM,
		"dcvEmailAddress", "admin@example.com", "responseFormat", "1")))
	number, _ := strconv.ParseInt(got.Get("orderNumber"), 10, 64)
	f.confirm(number)
	c := parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "2", "showStatusDetails", "Y", "responseFormat", "1")))
	if c.Get("errorCode") != "0" || c.Get("organizationValidationStatus") != "0" || c.Get("dcvStatus") != "1" {
		t.Fatalf("OV before organization validation: %v", c)
	}
	if ok, err := f.DCV.ValidateOrganization(context.Background(), number); !ok || err != nil {
		t.Fatalf("validate organization: %v %v", ok, err)
	}
	c = parseForm(t, f.Post(collectPath, f.as("orderNumber", n(number), "queryType", "2", "responseFormat", "1")))
	der, _ := base64.StdEncoding.DecodeString(c.Get("certificate"))
	leaf, err := x509.ParseCertificate(der)
	if err != nil || len(leaf.Subject.Organization) != 1 || leaf.Subject.Organization[0] != "Example Ltd" ||
		len(leaf.Policies) != 1 || leaf.Policies[0].String() != "2.23.140.1.2.2" {
		t.Fatalf("OV certificate: %v %+v", err, leaf)
	}
}
