package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/app"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/server"
)

// issue 2: without --tls-cert/--tls-key a self-signed certificate is made
// once in --data and reused by later starts.
func TestSelfSignedCertificateIsReused(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{})
	certFile := filepath.Join(env.Dir, "tls-cert.pem")
	first, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(env.Dir, "tls-key.pem")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	// A second server on the same --data.
	second := dcvtest.StartIn(t, env.Dir, dcvtest.Options{})
	again, _ := os.ReadFile(certFile)
	if !bytes.Equal(first, again) {
		t.Fatal("the certificate was made again")
	}
	// Both serve it.
	for _, e := range []*dcvtest.Env{env, second} {
		if status, _, _ := e.Do(http.MethodGet, e.Server.URL()+"/products/!ResendDCVEmail", "", ""); status != 200 {
			t.Fatalf("HTTP %d", status)
		}
	}
}

// issue 2: the admin listener serves /healthz and the captured mailbox as
// JSON; neither is on the public listener.
func TestAdminListener(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{Demo: true, AdminListen: true})
	env.Drain()
	resp, err := http.Get(env.Server.AdminURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get(env.Server.AdminURL() + "/mailbox?order=1234567")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, key := range []string{"to", "subject", "text", "orderNumber", "dcvCode"} {
		if v, ok := msgs[0][key]; !ok || v == "" {
			t.Errorf("mailbox message lacks %q: %v", key, msgs[0])
		}
	}
	for _, path := range []string{"/healthz", "/mailbox"} {
		if status, _, _ := env.Do(http.MethodGet, env.Server.URL()+path, "", ""); status != http.StatusNotFound {
			t.Errorf("public listener serves %s: HTTP %d", path, status)
		}
	}
}

// docs/cli.md: --demo is idempotent: seeding again changes nothing.
func TestDemoSeedIsIdempotent(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{Demo: true})
	before := env.Count(server.DemoOrder)
	if err := server.SeedDemo(context.Background(), env.Server.App); err != nil {
		t.Fatal(err)
	}
	if after := env.Count(server.DemoOrder); after != before {
		t.Fatalf("second seed changed state: %+v -> %+v", before, after)
	}
	if before.Mailbox != 1 {
		t.Fatalf("the demo order's first email: %d messages", before.Mailbox)
	}
}

// Shutdown lets the worker finish and closes the database; a request after
// it is refused rather than half-served.
func TestShutdownIsClean(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{Demo: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.Get(env.Server.URL() + "/products/!ResendDCVEmail"); err == nil {
		t.Fatal("server still answers after Shutdown")
	}
}

// docs/rules.md: the dated rules are read against the clock and reported;
// --dns-require-ad=auto follows the dnssec-contacts rule.
func TestStatusReportsRulesInForce(t *testing.T) {
	env := dcvtest.Start(t, dcvtest.Options{AdminListen: true})
	resp, err := http.Get(env.Server.AdminURL() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st server.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	inForce := map[string]bool{}
	for _, r := range st.Rules {
		inForce[r.ID] = r.InForce
	}
	// The fake clock reads 2026-11-26.
	if !inForce["dnssec-contacts"] || !inForce["email-should-not"] || inForce["mpic-5-perspectives"] || inForce["email-must-not"] {
		t.Fatalf("rules at %v: %+v", dcvtest.Epoch, inForce)
	}
	if !st.DNSRequireAD || st.Database == "" {
		t.Fatalf("status: %+v", st)
	}
	for mode, want := range map[string]bool{"true": true, "false": false, "auto": true} {
		got, err := app.RequireAD(mode, dcv.Timeline, dcvtest.Epoch)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", mode, got, err)
		}
	}
	if got, _ := app.RequireAD("auto", dcv.Timeline, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); got {
		t.Error("auto requires DNSSEC before 2026-03-15")
	}
	if _, err := app.RequireAD("maybe", dcv.Timeline, dcvtest.Epoch); err == nil {
		t.Error("bad mode accepted")
	}
}
