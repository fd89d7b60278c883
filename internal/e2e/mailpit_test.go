package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/dcvmail/dcvmail/internal/mail"
	"github.com/dcvmail/dcvmail/sps"
)

// writePEM writes blocks to a new file in dir.
func writePEM(t testing.TB, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// testPKI makes a CA and a server certificate for localhost and 127.0.0.1
// signed by it; it returns the files of the certificate, its key and the CA.
func testPKI(t testing.TB) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dcvmail e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return writePEM(t, dir, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der}),
		writePEM(t, dir, "key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		writePEM(t, dir, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

var (
	codeRE  = regexp.MustCompile(`Validation code: (\S+)`)
	orderRE = regexp.MustCompile(`\(order (\d+)\)`)
)

// mpMessage is Mailpit's view of one message.
type mpMessage struct {
	ID        string
	MessageID string
	From      struct{ Address string }
	To        []struct{ Address string }
	Subject   string
	Date      time.Time
	Username  string
	Text      string
	HTML      string
}

// The whole path against a real third-party SMTP server: the real binary
// with --smtp (STARTTLS required, verified against a CA given with
// --smtp-ca, AUTH, DKIM), resends through the HTTPS API, and what Mailpit
// received: headers, text, HTML, the code, a valid DKIM signature; and the
// evidence dcvmail kept is Mailpit's own reply naming its message.
func TestMailpitDelivery(t *testing.T) {
	certFile, keyFile, caFile := testPKI(t)
	mp := startMailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls", "--smtp-auth-accept-any")
	data := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	dkimKey := writePEM(t, t.TempDir(), "dkim.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	_, port, _ := net.SplitHostPort(mp.SMTPAddr)
	d := startDcvmail(t, data,
		"--smtp", "smtp://dcv:s3cret@localhost:"+port, "--smtp-ca", caFile,
		"--dkim-key", dkimKey, "--dkim-selector", "e2e")
	// The admin commands, run beside the server as an operator would.
	runCLI(t, "pw-alice\n", "account", "add", "--data", data, "--login", "alice", "--password-stdin")
	out := runCLI(t, "", "order", "add", "--data", data, "--account", "alice", "--domain", "example.com", "--domain", "www.example.com", "--dcv-email", "admin@example.com")
	order, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("order add printed %q", out)
	}
	mp.waitTotal(t, 1, 30*time.Second) // the first DCV email, queued by order add
	for range 2 {
		if err := d.resend(context.Background(), "alice", "pw-alice", sps.ResendDCVEmailRequest{OrderNumber: order}); err != nil {
			t.Fatalf("resend: %v", err)
		}
	}
	mp.waitTotal(t, 3, 30*time.Second)

	signer, err := mail.LoadDKIM(dkimKey, "e2e", "dcvmail.test")
	if err != nil {
		t.Fatal(err)
	}
	record, _ := signer.TXTRecord()
	lookup := func(name string) ([]string, error) {
		if name != "e2e._domainkey.dcvmail.test" {
			return nil, fmt.Errorf("unexpected DKIM lookup of %s", name)
		}
		return []string{record}, nil
	}
	summaries := mp.messages(t)
	ids := map[string]bool{}
	var code string
	for _, s := range summaries {
		var m mpMessage
		if err := mp.getJSON("/api/v1/message/"+s.ID, &m); err != nil {
			t.Fatal(err)
		}
		ids[m.ID] = true
		if m.From.Address != "dcv@dcvmail.test" || len(m.To) != 1 || m.To[0].Address != "admin@example.com" || m.Username != "dcv" {
			t.Errorf("%s: from %v to %v user %q", m.ID, m.From, m.To, m.Username)
		}
		if m.Subject != fmt.Sprintf("Domain Control Validation for example.com and 1 more (order %d)", order) {
			t.Errorf("%s: subject %q", m.ID, m.Subject)
		}
		if !strings.HasSuffix(m.MessageID, "@dcvmail.test") {
			t.Errorf("%s: Message-ID %q", m.ID, m.MessageID)
		}
		c := codeRE.FindStringSubmatch(m.Text)
		if c == nil || !strings.Contains(m.HTML, c[1]) || !strings.Contains(m.Text, "dcvCode="+c[1]) {
			t.Fatalf("%s: no code in text and HTML:\n%s", m.ID, m.Text)
		}
		if code == "" {
			code = c[1]
		} else if c[1] != code {
			t.Errorf("an identical resend carries another code: %s, %s", c[1], code)
		}
		var h map[string][]string
		if err := mp.getJSON("/api/v1/message/"+s.ID+"/headers", &h); err != nil {
			t.Fatal(err)
		}
		if got := h["Auto-Submitted"]; len(got) != 1 || got[0] != "auto-generated" {
			t.Errorf("%s: Auto-Submitted %v", m.ID, got)
		}
		if len(h["Date"]) != 1 || len(h["Dkim-Signature"]) != 1 || !strings.HasPrefix(h["Content-Type"][0], "multipart/alternative") {
			t.Errorf("%s: headers %v", m.ID, h)
		}
		resp, err := http.Get(mp.API + "/api/v1/message/" + s.ID + "/raw")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		vs, err := dkim.VerifyWithOptions(strings.NewReader(string(raw)), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("%s: DKIM: %v %+v", m.ID, err, vs)
		}
	}
	// The evidence: each delivery's reply is Mailpit's, naming the message.
	var show struct {
		Deliveries []struct {
			State     string
			LastReply string
		}
	}
	if err := json.Unmarshal([]byte(runCLI(t, "", "order", "show", "--data", data, "--json", fmt.Sprint(order))), &show); err != nil {
		t.Fatal(err)
	}
	if len(show.Deliveries) != 3 {
		t.Fatalf("%d deliveries", len(show.Deliveries))
	}
	for _, dv := range show.Deliveries {
		id, ok := strings.CutPrefix(dv.LastReply, "250 2.0.0 Ok: queued as ")
		if dv.State != "sent" || !ok || !ids[id] {
			t.Errorf("delivery %+v: want sent with Mailpit's reply naming one of %v", dv, ids)
		}
	}
}

// burst sends resends for orders from workers goroutines, each order up to
// per times, and counts the errorCode=0 answers. It stops early when stop
// is closed; after calls answers it closes reached (if not nil).
func burst(d *dcvmail, login, password string, orders []int64, per, workers int, stop <-chan struct{}, reached chan<- struct{}, after int) (ok, other int64) {
	var okN, otherN atomic.Int64
	jobs := make(chan int64)
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for o := range jobs {
				if err := d.resend(context.Background(), login, password, sps.ResendDCVEmailRequest{OrderNumber: o}); err == nil {
					if okN.Add(1) == int64(after) && reached != nil {
						once.Do(func() { close(reached) })
					}
				} else {
					otherN.Add(1)
				}
			}
		})
	}
feed:
	for range per {
		for _, o := range orders {
			select {
			case jobs <- o:
			case <-stop:
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	return okN.Load(), otherN.Load()
}

// waitOutboxEmpty waits until no delivery of data's database is pending.
func waitOutboxEmpty(t testing.TB, data string, within time.Duration) []outboxRow {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows := readOutbox(t, data)
		pending := 0
		for _, r := range rows {
			if r.State == "pending" {
				pending++
			}
		}
		if pending == 0 {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending after %v", pending, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAllDelivered checks that every delivery in the outbox was sent and
// is in Mailpit, and returns how many reached Mailpit more than once.
func checkAllDelivered(t *testing.T, mp *mailpit, rows []outboxRow) (duplicates int) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range mp.messages(t) {
		seen[m.MessageID]++
	}
	missing := 0
	for _, r := range rows {
		if r.State != "sent" {
			t.Errorf("delivery %d: %s after %d attempts: %s", r.ID, r.State, r.Attempts, r.Reply)
		}
		switch n := seen[r.MessageID]; {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d deliveries never reached Mailpit", missing, len(rows))
	}
	return duplicates
}

// Crash safety (docs/api.md §2, rule 6): dcvmail is killed with SIGKILL
// in the middle of a burst of resends and started again on the same --data;
// every resend that was answered errorCode=0 reaches Mailpit. Messages that
// were handed to Mailpit but not yet recorded when the process died are
// sent again after the lease: at-least-once, and the test reports how many.
func TestMailpitCrashSafety(t *testing.T) {
	mp := startMailpit(t)
	data := t.TempDir()
	orders := seed(t, data, "alice", "pw-alice", 200)
	args := []string{"--smtp", "smtp://" + mp.SMTPAddr + "?tls=none", "--mail-lease", "6s", "--smtp-timeout", "2s", "--mail-retry-base", "500ms"}
	d := startDcvmail(t, data, args...)
	mp.waitTotal(t, len(orders), 60*time.Second)

	// 4 resends of each of 200 orders (within the burst of 5), killed after
	// 300 answers: some resends are in the outbox, some in flight to
	// Mailpit, some unanswered.
	reached := make(chan struct{})
	stop := make(chan struct{})
	var ok, other int64
	done := make(chan struct{})
	go func() {
		ok, other = burst(d, "alice", "pw-alice", orders, 4, 32, stop, reached, 300)
		close(done)
	}()
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatal("the burst did not reach 300 answers")
	}
	d.kill()
	close(stop)
	<-done
	t.Logf("killed with SIGKILL after %d errorCode=0 answers (%d requests failed or were refused)", ok, other)

	startDcvmail(t, data, args...)
	rows := waitOutboxEmpty(t, data, 90*time.Second)
	if got := int64(len(rows) - len(orders)); got < ok {
		t.Fatalf("%d resends in the outbox, but %d were answered errorCode=0", got, ok)
	}
	time.Sleep(500 * time.Millisecond) // let Mailpit store the last ones
	dups := checkAllDelivered(t, mp, rows)
	t.Logf("crash test: %d deliveries (%d answered errorCode=0 before the kill), all in Mailpit; %d delivered twice", len(rows), ok, dups)
	fmt.Printf("CRASH: answered=%d deliveries=%d missing=0 duplicates=%d\n", ok, len(rows), dups)
}

// An outage of the mail server: Mailpit stops for ~30 s during a burst and
// starts again on the same port; everything arrives, nothing is lost.
func TestMailpitOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: the outage lasts 30 s")
	}
	mp := startMailpit(t)
	data := t.TempDir()
	orders := seed(t, data, "alice", "pw-alice", 100)
	d := startDcvmail(t, data, "--smtp", "smtp://"+mp.SMTPAddr+"?tls=none", "--smtp-timeout", "2s",
		"--mail-retry-base", "500ms", "--mail-retry-max", "4s")
	mp.waitTotal(t, len(orders), 60*time.Second)

	// 3 resends per order: the first 100 before the outage, the rest spread
	// over its first 20 s.
	ok, _ := burst(d, "alice", "pw-alice", orders, 1, 8, nil, nil, 0)
	mp.stop()
	outage := time.Now()
	for i := range 20 {
		n, _ := burst(d, "alice", "pw-alice", orders[i*5:i*5+5], 2, 2, nil, nil, 0)
		ok += n
		time.Sleep(time.Second)
	}
	if ok != 300 {
		t.Fatalf("%d resends answered errorCode=0, want 300", ok)
	}
	pendingDuring := 0
	for _, r := range readOutbox(t, data) {
		if r.State == "pending" {
			pendingDuring++
		}
	}
	time.Sleep(30*time.Second - time.Since(outage))
	mp.start()
	restarted := time.Now()
	rows := waitOutboxEmpty(t, data, 60*time.Second)
	caughtUp := time.Since(restarted)
	time.Sleep(500 * time.Millisecond)
	dups := checkAllDelivered(t, mp, rows)
	var retried int
	for _, r := range rows {
		if r.Attempts > 1 {
			retried++
		}
	}
	t.Logf("outage test: %d deliveries, %d pending during the outage, %d needed retries; all in Mailpit %v after it came back; %d delivered twice",
		len(rows), pendingDuring, retried, caughtUp.Round(time.Millisecond), dups)
	if retried == 0 {
		t.Error("no delivery was retried: the outage did not happen?")
	}
}
