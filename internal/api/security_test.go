package api_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/contacts"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/store"
	"github.com/dcvmail/dcvmail/internal/syncbuf"
)

// The tests of SECURITY.md's defences that live at the API.

// noDNS is a resolver address where nothing listens: address lists in these
// tests find constructed addresses only and never leave the machine.
var noDNS = []string{"127.0.0.1:9"}

const badLogin = "errorCode=-16&errorMessage=Incorrect+login+details%2C+account+is+locked%2C+password+has+expired%2C+or+your+source+IP+is+blocked%21"

// issue 7: 20 wrong passwords within 15 minutes lock the account; then even
// the right password gets the one -16, on every endpoint, until the lock
// ends 15 minutes later (the server's clock is the fake one). A success
// in between does not wipe the count. The lock and its end are logged.
func TestTwentyWrongPasswordsLockTheAccount(t *testing.T) {
	log := &syncbuf.Buffer{}
	f := newFixture(t, dcvtest.Options{Log: log, Resolvers: noDNS})
	guess := func(i int) string {
		return f.Post(resendPath, form("loginName", alice, "loginPassword", fmt.Sprintf("guess-%02d", i), "orderNumber", n(f.order)))
	}
	right := func() string { return f.resend("orderNumber", n(f.order)) }

	for i := range 19 {
		wantBody(t, guess(i), badLogin)
		f.Clock.Advance(30 * time.Second)
	}
	wantBody(t, right(), "errorCode=0")
	if strings.Contains(log.String(), "login locked") {
		t.Fatal("locked before the 20th failure")
	}
	wantBody(t, guess(19), badLogin)
	lockedAt := f.Clock.Now()
	before := f.Count(f.order)
	wantBody(t, right(), badLogin)
	wantBody(t, f.Post(addressesPath, form("loginName", alice, "loginPassword", alicePass, "domainName", "example.com")),
		"-16\nIncorrect login details, account is locked, password has expired, or your source IP is blocked!\n")
	if after := f.Count(f.order); after != before {
		t.Fatalf("a locked account changed state: %+v -> %+v", before, after)
	}
	// Another account from the same address is not locked (the source's
	// threshold is higher).
	if got := f.Post(addressesPath, form("loginName", bob, "loginPassword", bobPass, "domainName", "example.com")); !strings.HasPrefix(got, "0\n") {
		t.Fatalf("bob: %q", got)
	}
	if !strings.Contains(log.String(), "login locked") || !strings.Contains(log.String(), "login=alice") {
		t.Fatalf("the lock was not logged:\n%s", log)
	}

	f.Clock.Set(lockedAt.Add(accounts.DefaultLockoutPolicy.Duration - time.Second))
	wantBody(t, right(), badLogin)
	f.Clock.Set(lockedAt.Add(accounts.DefaultLockoutPolicy.Duration))
	wantBody(t, right(), "errorCode=0")
	if !strings.Contains(log.String(), "login lock ended") {
		t.Fatalf("the end of the lock was not logged:\n%s", log)
	}
	for i := range 20 {
		if pw := fmt.Sprintf("guess-%02d", i); strings.Contains(log.String(), pw) {
			t.Fatalf("the log holds a password tried (%s)", pw)
		}
	}
	if strings.Contains(log.String(), alicePass) {
		t.Fatal("the log holds alice's password")
	}
}

// handlerFixture is the API handler alone, over a SQLite file, with a
// fake clock: for limits that dcvtest's server does not let a test set.
type handlerFixture struct {
	h     http.Handler
	auth  *accounts.Authenticator
	st    *store.Store
	clock *clock.Fake
	order int64
}

func newHandlerFixture(t *testing.T, limit api.RequestLimit, logOut io.Writer) *handlerFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(t.TempDir(), "api.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(dcvtest.Epoch)
	svc, err := dcv.New(ctx, dcv.Config{Store: st, Clock: fake, Finder: contacts.NewFinder(contacts.Config{}), PublicURL: "https://localhost:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for login, pw := range map[string]string{alice: alicePass, bob: bobPass} {
		hash, _ := accounts.HashPassword(pw, rand.Reader)
		if _, err := st.Direct().CreateAccount(ctx, model.Account{Login: login, PasswordHash: hash, Created: fake.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	order, err := svc.CreateOrder(ctx, dcv.NewOrder{Login: alice, Domains: []string{"example.com"}, DCVEmail: "admin@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if logOut == nil {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	lo, err := accounts.NewLockout(ctx, st, accounts.LockoutPolicy{}, log)
	if err != nil {
		t.Fatal(err)
	}
	auth := accounts.NewAuthenticator(st, accounts.WithClock(fake), accounts.WithLockout(lo))
	limit.Clock = fake
	h := api.New(api.Config{DCV: svc, Auth: auth, Log: log, RequestLimit: limit,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	return &handlerFixture{h: h, auth: auth, st: st, clock: fake, order: order}
}

// post serves one request over "TLS" and returns the answer.
func (f *handlerFixture) post(t *testing.T, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d", w.Code)
	}
	return w
}

// issue 7: every endpoint counts against one per-account bucket; over it
// the answer is -14 with a Retry-After and an errorDetail naming the time
// (docs/sectigo-divergences.md says why -14). Requests refused before
// authentication cost nothing, other accounts are not affected, and the
// bucket refills with the clock.
func TestRequestLimitOnEveryEndpoint(t *testing.T) {
	log := &syncbuf.Buffer{}
	f := newHandlerFixture(t, api.RequestLimit{Rate: 1, Burst: 4}, log)
	as := func(login, pw string) string { return "loginName=" + login + "&loginPassword=" + pw }
	calls := []struct{ path, body, limited string }{
		{resendPath, as(alice, alicePass) + "&orderNumber=" + n(f.order),
			"errorCode=-14&errorMessage=An+unknown+error+occurred%21&errorDetail=request+limit+reached%3B+retry+after+2026-11-26T12%3A00%3A01Z"},
		{addressesPath, as(alice, alicePass) + "&domainName=example.com",
			"-14\nAn unknown error occurred!\n"},
		{"/products/!GetMDCDomainDetails", as(alice, alicePass) + "&orderNumber=" + n(f.order) + "&responseFormat=2",
			`{"errorCode":-14,"errorMessage":"An unknown error occurred!","errorDetail":"request limit reached; retry after 2026-11-26T12:00:01Z"}` + "\n"},
		{"/products/!AutoUpdateDCV", as(alice, alicePass) + "&orderNumber=" + n(f.order) + "&newMethod=HTTP_CSR_HASH",
			"errorCode=-14&errorMessage=An+unknown+error+occurred%21&errorDetail=request+limit+reached%3B+retry+after+2026-11-26T12%3A00%3A01Z"},
	}
	for _, c := range calls {
		if got := f.post(t, c.path, c.body).Body.String(); strings.Contains(got, "-14") {
			t.Fatalf("%s within the burst: %q", c.path, got)
		}
	}
	for _, c := range calls {
		w := f.post(t, c.path, c.body)
		wantBody(t, w.Body.String(), c.limited)
		if ra := w.Header().Get("Retry-After"); ra != "1" {
			t.Errorf("%s: Retry-After %q, want 1", c.path, ra)
		}
	}
	// Another account has its own bucket.
	if got := f.post(t, calls[1].path, as(bob, bobPass)+"&domainName=example.org").Body.String(); !strings.HasPrefix(got, "0\n") {
		t.Fatalf("bob: %q", got)
	}
	// A second later there is one more token. Checks before the limit
	// answer as always and cost none of it; the next call takes it, and the
	// one after is refused again.
	f.clock.Advance(time.Second)
	wantBody(t, f.post(t, resendPath, as(alice, alicePass)+"&orderNumber=x").Body.String(), invalidAnswer("orderNumber"))
	wantBody(t, f.post(t, resendPath, as(alice, "wrong")+"&orderNumber="+n(f.order)).Body.String(), badLogin)
	if got := f.post(t, calls[2].path, calls[2].body).Body.String(); strings.Contains(got, "-14") {
		t.Fatalf("after a second: %q", got)
	}
	wantBody(t, f.post(t, calls[0].path, calls[0].body).Body.String(), strings.ReplaceAll(calls[0].limited, "12%3A00%3A01Z", "12%3A00%3A02Z"))
	// One warning per run of refusals, naming the account, not every
	// refusal.
	if n := strings.Count(log.String(), "account over its request limit"); n != 2 {
		t.Fatalf("%d warnings, want one per run of refusals (2):\n%s", n, log)
	}
}

// rssBytes is the process's resident set (Linux), or 0.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(fields[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// issue 7: 1,000 parallel requests with wrong passwords do not exhaust
// memory. argon2id holds 19 MiB per verification; unbounded, 1,000 at once
// would want about 19 GiB. The Authenticator runs at most Slots() at once
// and the rest wait holding nothing, so the heap grows by a few
// verifications' worth plus the requests themselves. The test holds all
// 1,000 in flight, measures, then lets the clients go away: waiting
// verifications give up with their request.
func TestThousandParallelWrongPasswordsStayWithinMemory(t *testing.T) {
	const requests = 1000
	// Accounts from memory rather than the database: what is measured is
	// the verifications, and an instrumented SQLite would only add time.
	hash, _ := accounts.HashPassword(alicePass, rand.Reader)
	auth := accounts.NewAuthenticator(memoryAccounts{alice: {ID: 1, Login: alice, PasswordHash: hash}})
	h := api.New(api.Config{Auth: auth, Log: slog.New(slog.DiscardHandler),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: requests}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseRSS := rssBytes()
	var peakHeap, peakRSS uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
			peakRSS = max(peakRSS, rssBytes())
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			login := alice
			if i%2 == 1 {
				login = fmt.Sprintf("nobody%d", i) // unknown logins cost the same
			}
			body := "loginName=" + login + "&loginPassword=wrong-" + strconv.Itoa(i) + "&orderNumber=10000001"
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+resendPath, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Proto", "https")
			// A source each: one source may have only a few attempts
			// waiting (issue 16), and this test is about many waiting.
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250))
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	// Every request reaches its verification: it runs, or waits for a slot.
	deadline := time.Now().Add(60 * time.Second)
	for auth.Waiting()+auth.Verifications() < requests {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s only %d requests reached verification", auth.Waiting()+auth.Verifications())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waiting := auth.Waiting()
	time.Sleep(300 * time.Millisecond) // all in flight: a few verifying, the rest waiting
	cancel()
	wg.Wait()
	close(stopSampling)
	<-sampled

	slots := uint64(auth.Slots())
	const argon = 19 << 20
	// Generous: the running verifications, as much garbage again before the
	// collector runs (GOGC=100), twice that for slack, and 96 KiB for each
	// request's connection, buffers and goroutines on both ends.
	bound := 4*slots*argon + requests*(96<<10)
	heapGrowth := peakHeap - min(peakHeap, base.HeapInuse)
	rssGrowth := peakRSS - min(peakRSS, baseRSS)
	t.Logf("%d requests, %d waiting at once, %d argon2id runs, %d slots: heap grew %d MiB, RSS %d MiB (bound %d MiB; unbounded would be %d MiB)",
		requests, waiting, auth.Verifications(), slots, heapGrowth>>20, rssGrowth>>20, bound>>20, requests*argon>>20)
	if waiting < requests/2 {
		t.Fatalf("only %d requests waited at once: the test did not hold them in flight", waiting)
	}
	if heapGrowth > bound {
		t.Fatalf("heap grew by %d MiB with %d requests in flight, more than %d MiB", heapGrowth>>20, requests, bound>>20)
	}
	// RSS also counts the race detector's shadow memory and what the
	// runtime keeps from the system; it must still be far from 19 GiB.
	if rssGrowth > 6*bound {
		t.Fatalf("RSS grew by %d MiB, more than %d MiB", rssGrowth>>20, 6*bound>>20)
	}
	// The server notices the clients' closed connections a moment later;
	// then the waiting verifications give up without running.
	for deadline := time.Now().Add(10 * time.Second); auth.Waiting() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d verifications still wait 10s after their clients left", auth.Waiting())
		}
	}
}

// memoryAccounts serves accounts from a map.
type memoryAccounts map[string]model.Account

func (m memoryAccounts) AccountByLogin(_ context.Context, login string) (model.Account, error) {
	if a, ok := m[login]; ok {
		return a, nil
	}
	return model.Account{}, model.ErrNotFound
}

// issue 7: nothing secret reaches the log. A whole run through the real
// server: good and bad logins on every endpoint, a lock and its end,
// resends (identical and new), address lists, a read-only refusal,
// malformed input (CR/LF, over-long, in the query string, wrong method),
// an internal failure, and the confirmation page with a right and a wrong
// code. Then the captured log must hold none of the passwords used and none
// of the random values the mailbox received.
func TestLogHoldsNoSecrets(t *testing.T) {
	log := &syncbuf.Buffer{}
	f := newFixture(t, dcvtest.Options{Log: log, Resolvers: noDNS})
	const readerPass, malloryPass, typedAsLogin = "reader-pw-5UKQ", "mallory-pw-Z3R8", "typed-into-login-W4XJ"
	f.AddAccount("reader", readerPass, true)
	passwords := []string{alicePass, bobPass, readerPass, malloryPass, typedAsLogin}
	post := func(path string, kv ...string) string { return f.Post(path, form(kv...)) }
	a := func(kv ...string) []string {
		return append([]string{"loginName", alice, "loginPassword", alicePass}, kv...)
	}

	// Good logins on every endpoint.
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")
	f.offer("example.com")
	post(addressesPath, a("domainName", "www.example.com", "responseFormat", "2")...)
	wantBody(t, f.resend("orderNumber", n(f.order), "dcvEmailAddress", "webmaster@example.com"), "errorCode=0")
	post("/products/!GetMDCDomainDetails", a("orderNumber", n(f.order), "showStatusDetails", "Y")...)
	second := f.AddOrder(alice, []string{"example.net"}, 0, "admin@example.net")
	f.offer("example.net")
	wantBody(t, post("/products/!AutoUpdateDCV", a("orderNumber", n(second), "newMethod", "EMAIL", "newDCVEmailAddress", "hostmaster@example.net")...), "errorCode=0")
	post(resendPath, "loginName", "reader", "loginPassword", readerPass, "orderNumber", n(f.order))
	post(addressesPath, "loginName", bob, "loginPassword", bobPass, "domainName", "example.org")

	// Bad logins: unknown login, a password typed into the login field, and
	// enough wrong ones to lock alice; then the lock ends.
	wantBody(t, post(resendPath, "loginName", "mallory", "loginPassword", malloryPass, "orderNumber", n(f.order)), badLogin)
	wantBody(t, post(resendPath, "loginName", typedAsLogin, "loginPassword", "x", "orderNumber", n(f.order)), badLogin)
	for i := range 20 {
		post(resendPath, "loginName", alice, "loginPassword", alicePass+strconv.Itoa(i), "orderNumber", n(f.order))
	}
	wantBody(t, f.resend("orderNumber", n(f.order)), badLogin)
	f.Clock.Advance(accounts.DefaultLockoutPolicy.Duration)
	wantBody(t, f.resend("orderNumber", n(f.order)), "errorCode=0")

	// Malformed input carrying the password.
	f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"%0D%0ABcc:+x@example.org&orderNumber="+n(f.order))
	f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+strings.Repeat("x", 200)+"&orderNumber="+n(f.order))
	f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber=1%ZZ")
	f.PostRaw(resendPath+"?loginPassword="+alicePass, "loginName=alice&orderNumber="+n(f.order))
	f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+"&bogus="+alicePass)
	f.Do(http.MethodGet, f.Server.URL()+resendPath+"?loginName=alice&loginPassword="+alicePass, "", "")
	f.PostRaw(resendPath, "loginName=alice&loginPassword="+alicePass+"&orderNumber="+n(f.order)+strings.Repeat("&orderNumber="+n(f.order), 6000))

	// An internal failure: a table the address list writes to is gone.
	ctx := context.Background()
	var none int
	f.Store.QueryRow(ctx, `ALTER TABLE address_offers RENAME TO address_offers_away`, &none)
	if got := f.offer("example.com"); !strings.HasPrefix(got, "-14\n") {
		t.Fatalf("no internal failure: %q", got)
	}
	f.Store.QueryRow(ctx, `ALTER TABLE address_offers_away RENAME TO address_offers`, &none)

	// The confirmation page, with a wrong code and the right one.
	msgs := f.Mailbox(0)
	if len(msgs) < 4 {
		t.Fatalf("only %d messages", len(msgs))
	}
	last := msgs[len(msgs)-1]
	f.Do(http.MethodPost, f.Server.URL()+"/products/EnterDCVCode2", "application/x-www-form-urlencoded",
		"orderNumber="+n(last.OrderNumber)+"&dcvCode="+strings.Repeat("A", 26))
	f.Do(http.MethodPost, f.Server.URL()+"/products/EnterDCVCode2", "application/x-www-form-urlencoded",
		"orderNumber="+n(last.OrderNumber)+"&dcvCode="+last.DCVCode)
	f.Drain()

	out := log.String()
	for _, must := range []string{"internal failure", "login locked", "login lock ended", "errorCode=-16", "errorCode=-4", "errorCode=-17"} {
		if !strings.Contains(out, must) {
			t.Fatalf("the log lacks %q, so the run did not cover what it should:\n%s", must, out)
		}
	}
	for _, pw := range passwords {
		if strings.Contains(out, pw) {
			t.Errorf("the log holds the password %q", pw)
		}
	}
	codes := 0
	for _, m := range msgs {
		if m.DCVCode == "" {
			t.Fatalf("message %d has no random value", m.ID)
		}
		codes++
		if strings.Contains(out, m.DCVCode) {
			t.Errorf("the log holds the random value of message %d", m.ID)
		}
	}
	t.Logf("scanned %d bytes of log for %d passwords and %d random values", len(out), len(passwords), codes)
}

// issue 7: a panic in a handler is answered -14 with a request id, and its
// log entry (the panic and the stack) holds no password. The handler has
// no DCV service here, so the first call after authentication panics.
func TestPanicLogHoldsNoPassword(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.SQLiteURL(filepath.Join(t.TempDir(), "p.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hash, _ := accounts.HashPassword(alicePass, rand.Reader)
	if _, err := st.Direct().CreateAccount(ctx, model.Account{Login: alice, PasswordHash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	log := &syncbuf.Buffer{}
	h := api.New(api.Config{Auth: accounts.NewAuthenticator(st), Log: slog.New(slog.NewTextHandler(log, nil))})
	req := httptest.NewRequest(http.MethodPost, resendPath, strings.NewReader("loginName=alice&loginPassword="+alicePass+"&orderNumber=5"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if got := w.Body.String(); !strings.HasPrefix(got, "errorCode=-14&errorMessage=An+unknown+error+occurred%21&errorDetail=request+id+") {
		t.Fatalf("answer %q", got)
	}
	if !strings.Contains(log.String(), "panic in API handler") {
		t.Fatalf("no panic logged:\n%s", log)
	}
	if strings.Contains(log.String(), alicePass) {
		t.Fatalf("the panic's log entry holds the password:\n%s", log)
	}
}

// issue 7: API answers over HTTPS carry HSTS; over a plain listener they
// do not (browsers ignore it there, RFC 6797 section 7.2).
func TestAPIAnswersCarryHSTS(t *testing.T) {
	f := newFixture(t, dcvtest.Options{HTTPListen: true})
	body := form("loginName", alice, "loginPassword", alicePass, "orderNumber", n(f.order)).Encode()
	_, hdr, _ := f.Do(http.MethodPost, f.Server.URL()+resendPath, "application/x-www-form-urlencoded", body)
	if got := hdr.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Fatalf("HTTPS answer: Strict-Transport-Security %q", got)
	}
	_, hdr, _ = f.Do(http.MethodPost, f.Server.HTTPURL()+resendPath, "application/x-www-form-urlencoded", body)
	if got := hdr.Get("Strict-Transport-Security"); got != "" {
		t.Fatalf("plain-HTTP answer: Strict-Transport-Security %q", got)
	}
}
