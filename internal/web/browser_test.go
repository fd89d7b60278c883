package web_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/dcvmail/dcvmail/internal/dcvtest"
	"github.com/dcvmail/dcvmail/internal/web"
)

// The browser tests drive Debian's chromium, headless, through the DevTools
// protocol. Without chromium they are skipped, unless
// DCVMAIL_REQUIRE_BROWSER=1 (CI) makes that a failure. Screenshots go to the
// test's temporary directory, or to DCVMAIL_SCREENSHOTS when it names a
// directory to keep them in.

// browser starts a headless chromium with a fresh profile and returns a
// tab's context, closed when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("DCVMAIL_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium is not installed (apt-get install -y chromium) and DCVMAIL_REQUIRE_BROWSER=1")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		// The test server's certificate is self-signed.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	return tab
}

// screenshots is where a test's screenshots go.
func screenshots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DCVMAIL_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// viewport is a window size to look at the page in.
type viewport struct {
	name          string
	width, height int64
	scale         float64
}

var (
	desktop = viewport{"desktop", 1280, 800, 1}
	phone   = viewport{"phone", 390, 844, 2}
)

// shoot sets the viewport and saves a screenshot of the whole page as
// NAME-VIEWPORT.png.
func shoot(t *testing.T, tab context.Context, dir, name string, v viewport) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale)}
	if v.width < 600 {
		opts = append(opts, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+"-"+v.name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("screenshot:", file)
}

// linkIn finds the confirmation link in a DCV email's text.
func linkIn(t *testing.T, text string) string {
	t.Helper()
	link := regexp.MustCompile(`https://\S+` + regexp.QuoteMeta(web.Path) + `\?\S+`).FindString(text)
	if link == "" {
		t.Fatalf("no link in the email:\n%s", text)
	}
	return link
}

// The domain owner's path, as a person takes it: the link from the email
// opens a form already filled in, naming the domains; pressing the button
// validates them, and GetMDCDomainDetails then says Validated.
func TestBrowserOwnerConfirmsFromTheEmailLink(t *testing.T) {
	tab := browser(t)
	dir := screenshots(t)
	f := newFixture(t, dcvtest.Options{})
	msgs := f.Mailbox(f.order)
	link := linkIn(t, msgs[0].Text)

	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("dcvCode"))); err != nil {
		t.Fatal(err)
	}
	order, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("orderNumber")))
	if err != nil {
		t.Fatal(err)
	}
	code, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("dcvCode")))
	if err != nil {
		t.Fatal(err)
	}
	if order != n(f.order) || code != f.code {
		t.Fatalf("form filled with %q, %q; want %d, %q", order, code, f.order, f.code)
	}
	// The GET lists no domains: it shows nothing that depends on the code
	// (TestPageGetIsNoOracle).
	shoot(t, tab, dir, "form", desktop)
	shoot(t, tab, dir, "form", phone)
	f.wantValidated(f.order, false)

	// Press the button, as a person does (keyboard focus then Enter would do
	// the same: it is a plain form).
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".banner"))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, web.PhraseConfirmed) {
		t.Fatalf("after submitting, the page says:\n%s", text)
	}
	shoot(t, tab, dir, "confirmed", desktop)
	shoot(t, tab, dir, "confirmed", phone)

	got := f.Post("/products/!GetMDCDomainDetails", url.Values{"loginName": {alice}, "loginPassword": {alicePass}, "orderNumber": {n(f.order)}})
	want := "errorCode=0&1_domainName=example.com&1_dcvMethod=EMAIL&1_dcvStatus=Validated" +
		"&2_domainName=www.example.com&2_dcvMethod=EMAIL&2_dcvStatus=Validated"
	if got != want {
		t.Fatalf("GetMDCDomainDetails:\n got %s\nwant %s", got, want)
	}
	cs, err := f.DCV.Confirmations(context.Background(), f.order)
	if err != nil || len(cs) != 1 || !strings.Contains(cs[0].UserAgent, "Chrome") {
		t.Fatalf("evidence of the browser's confirmation: %+v (%v)", cs, err)
	}
}

// docs/api.md §6: merely loading the link, as a mail scanner or a
// preview does, validates nothing. A wrong code typed in by hand is refused
// on a page that keeps what was typed.
func TestBrowserLoadingTheLinkValidatesNothing(t *testing.T) {
	tab := browser(t)
	dir := screenshots(t)
	f := newFixture(t, dcvtest.Options{})
	link := linkIn(t, f.Mailbox(f.order)[0].Text)
	before := f.Count(f.order)
	for range 3 {
		if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("dcvCode"))); err != nil {
			t.Fatal(err)
		}
	}
	if after := f.Count(f.order); after != before {
		t.Fatalf("loading the link changed state: %+v -> %+v", before, after)
	}
	f.wantValidated(f.order, false)
	if c := f.count("code_attempts") + f.count("confirmations"); c != 0 {
		t.Fatalf("loading the link left %d attempt or confirmation rows", c)
	}

	// A mistyped code: the page says so and keeps the fields for a retry.
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab,
		chromedp.Navigate(u.Scheme+"://"+u.Host+web.Path),
		chromedp.WaitVisible(chromedp.ID("orderNumber")),
		chromedp.SendKeys(chromedp.ID("orderNumber"), n(f.order)),
		chromedp.SendKeys(chromedp.ID("dcvCode"), strings.ToLower(aWrongCode)),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("problem")),
	); err != nil {
		t.Fatal(err)
	}
	problem, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("problem")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(problem, web.PhraseInvalid) {
		t.Fatalf("the page says %q", problem)
	}
	shoot(t, tab, dir, "invalid", desktop)
	shoot(t, tab, dir, "invalid", phone)
	// The same in the dark colour scheme.
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	shoot(t, tab, dir, "invalid-dark", phone)
	f.wantValidated(f.order, false)
}

// A domain owner who presses the button while the database's writes are
// backlogged sees the busy page in the browser (HTTP 503, styled as every
// other answer), with the form still filled in; pressing again once the
// writes have gone through confirms.
func TestBrowserBusyThenConfirms(t *testing.T) {
	tab := browser(t)
	dir := screenshots(t)
	const limit = 50 * time.Millisecond
	f := newFixture(t, dcvtest.Options{WriteBacklogLimit: limit})
	link := linkIn(t, f.Mailbox(f.order)[0].Text)
	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("dcvCode"))); err != nil {
		t.Fatal(err)
	}

	release := f.HoldWrites(limit)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-state="busy"]`))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	code, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("dcvCode")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "The service is busy") || strings.Contains(text, web.PhraseConfirmed) || code != f.code {
		t.Fatalf("busy page with code %q says:\n%s", code, text)
	}
	shoot(t, tab, dir, "busy", phone)
	release()
	f.wantValidated(f.order, false)

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".banner"))); err != nil {
		t.Fatal(err)
	}
	if text, err = chromedp.Run(tab, chromedp.Text(chromedp.CSS("main"))); err != nil || !strings.Contains(text, web.PhraseConfirmed) {
		t.Fatalf("pressing again after the backlog: %v\n%s", err, text)
	}
	f.wantValidated(f.order, true)
}
