package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/sps"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and
// localhost with the given common name to the files serve reads.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// issue 17: SIGHUP makes `dcvmail serve` read --tls-cert/--tls-key again:
// a keep-alive connection opened before goes on working on the same
// connection, a new connection gets the new certificate; a broken pair on
// disk is refused and the certificate in force stays.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	certFile, keyFile := filepath.Join(data, "cert.pem"), filepath.Join(data, "key.pem")
	oldCert := writeCert(t, certFile, keyFile, "old")
	// startDcvmail trusts data/tls-cert.pem: put the same certificate there.
	b, _ := os.ReadFile(certFile)
	os.WriteFile(filepath.Join(data, "tls-cert.pem"), b, 0o644)
	d := startDcvmail(t, data, "--tls-cert", certFile, "--tls-key", keyFile)

	// get sends a request on client and reports the certificate the
	// connection presented and whether the connection was reused.
	get := func(client *http.Client) (cn string, reused bool) {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/products/EnterDCVCode2", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName, reused
	}
	kept := d.client
	if cn, _ := get(kept); cn != "old" {
		t.Fatalf("first connection presented %q", cn)
	}

	newCert := writeCert(t, certFile, keyFile, "new")
	hangup := func() {
		t.Helper()
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hangup()
	waitLog(t, d, `"msg":"TLS certificate reloaded"`, 1)

	if cn, reused := get(kept); !reused || cn != "old" {
		t.Errorf("the open connection: reused=%v, certificate %q; want the same connection, still %q", reused, cn, "old")
	}
	pool := x509.NewCertPool()
	pool.AddCert(newCert)
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer fresh.CloseIdleConnections()
	if cn, reused := get(fresh); reused || cn != "new" {
		t.Errorf("a new connection: reused=%v, certificate %q; want %q", reused, cn, "new")
	}
	// The old certificate is no longer offered to new connections.
	oldPool := x509.NewCertPool()
	oldPool.AddCert(oldCert)
	stale := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: oldPool}}}
	if _, err := stale.Get(d.URL + "/products/EnterDCVCode2"); err == nil {
		t.Error("a new connection still verified against the old certificate")
	}

	// A key that does not match: refused, the new certificate stays.
	writeCert(t, filepath.Join(data, "other.pem"), keyFile, "mismatch")
	hangup()
	waitLog(t, d, `"msg":"TLS certificate reload failed; the previous certificate stays in force"`, 1)
	fresh.CloseIdleConnections()
	if cn, _ := get(fresh); cn != "new" {
		t.Errorf("after a failed reload a new connection got %q, want %q", cn, "new")
	}
	select {
	case <-d.done:
		t.Fatal("serve exited on SIGHUP")
	default:
	}
}

// waitLog waits until the server's log holds want at least n times.
func waitLog(t *testing.T, d *dcvmail, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(d.log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %s:\n%s", want, tail(d.log.String(), 2048))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// issue 17: `dcvmail backup` copies the database while `serve` answers
// resends; the copy, served again as a restored database, passes
// integrity_check and has the orders and the committed emails of one
// moment. `dcvmail status` reads the running server's readiness.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	orders := seed(t, data, "reseller", "a long password", 200)
	d := startDcvmail(t, data, "--admin-listen", "127.0.0.1:0", "--resend-burst", "1000", "--resend-interval", "1ms")
	admin := d.Admin

	out, err := runCLIErr("", "status", "--admin-listen", admin)
	if err != nil || !strings.HasPrefix(out, "ready\n") || !strings.Contains(out, "database") {
		t.Fatalf("dcvmail status on a ready server: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var answered atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += 4 {
				err := d.resend(ctx, "reseller", "a long password", sps.ResendDCVEmailRequest{OrderNumber: orders[i%len(orders)]})
				if err != nil && ctx.Err() == nil {
					t.Errorf("resend under backup: %v", err)
					return
				}
				answered.Add(1)
			}
		}()
	}
	for answered.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	before := answered.Load()
	copyFile := filepath.Join(t.TempDir(), "copy.db")
	out, err = runCLIErr("", "backup", "--data", data, "--to", copyFile)
	during := answered.Load() - before
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("dcvmail backup: %v", err)
	}
	if !strings.Contains(out, "integrity_check ok") || !strings.Contains(out, filepath.Join(data, "message.key")+": back that file up too") {
		t.Errorf("backup output: %q", out)
	}
	if during == 0 {
		t.Error("no resend was answered while the backup ran")
	}
	t.Logf("%d resends answered during the backup, %d in all", during, answered.Load())

	// A second backup to the same file is refused and leaves it alone.
	if _, err := runCLIErr("", "backup", "--data", data, "--to", copyFile); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	// A wrong --data is not backed up as an empty database.
	if _, err := runCLIErr("", "backup", "--data", filepath.Join(data, "nope"), "--to", copyFile+".2"); err == nil {
		t.Error("backup of a missing database succeeded")
	}

	// Restore: the copy becomes the database of a new --data.
	restoredData := t.TempDir()
	b, err := os.ReadFile(copyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restoredData, "dcvmail.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.SQLiteURL(filepath.Join(restoredData, "dcvmail.db")))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.IntegrityCheck(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	var nOrders, nEmails, nOutbox int
	for q, dst := range map[string]*int{
		`SELECT COUNT(*) FROM orders`: &nOrders, `SELECT COUNT(*) FROM dcv_emails`: &nEmails, `SELECT COUNT(*) FROM outbox`: &nOutbox,
	} {
		if err := st.QueryRow(context.Background(), q, dst); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if nOrders != len(orders) {
		t.Errorf("restored copy has %d orders, want %d", nOrders, len(orders))
	}
	// Every email has its delivery: no transaction was copied in half.
	if nOutbox < nEmails || nEmails < len(orders) {
		t.Errorf("restored copy: %d emails, %d deliveries, %d orders", nEmails, nOutbox, len(orders))
	}
	if nOutbox < len(orders)+int(before) || int64(nOutbox) > int64(len(orders))+answered.Load() {
		t.Errorf("restored copy has %d deliveries; want between %d and %d", nOutbox, len(orders)+int(before), int64(len(orders))+answered.Load())
	}
	// The restored database serves with the message key copied beside it
	// (docs/operations.md), and a resend on it works.
	key, err := os.ReadFile(filepath.Join(data, "message.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restoredData, "message.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startDcvmail(t, restoredData)
	if err := r.resend(context.Background(), "reseller", "a long password", sps.ResendDCVEmailRequest{OrderNumber: orders[0]}); err != nil {
		t.Errorf("resend on the restored database: %v", err)
	}
}

// issue 17: `dcvmail status` exits non-zero and names the failing check
// when the server is not ready (its relay refuses connections), and when
// nothing answers at all.
func TestStatusNotReady(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	seed(t, data, "reseller", "a long password", 1) // one message waiting
	closed := freePort(t)                           // nothing listens there
	admin := startDcvmail(t, data, "--admin-listen", "127.0.0.1:0", "--smtp", "smtp://"+closed+"?tls=none").Admin
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := runCLIErr("", "status", "--admin-listen", admin)
		var exit *exec.ExitError
		if err != nil && errors.As(err, &exit) && strings.HasPrefix(out, "NOT READY\n") {
			if !regexp.MustCompile(`(?m)^\s+smtp\s+FAIL\s+deliveries to smtp://`).MatchString(out) {
				t.Errorf("status does not show the smtp check failing:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never reported not ready: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := runCLIErr("", "status", "--admin-listen", freePort(t)); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("status against nothing: %v", err)
	}
}
