package mailbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser test drives Debian's chromium, headless, as the confirmation
// page's test does (internal/web/browser_test.go). Without chromium it is
// skipped, unless DCVMAIL_REQUIRE_BROWSER=1 (CI) makes that a failure.
// Screenshots go to DCVMAIL_SCREENSHOTS, else DCVMAIL_ARTIFACTS/screenshots,
// else the test's temporary directory; each is logged.

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
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1366, 860),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	return tab
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DCVMAIL_SCREENSHOTS")
	if dir == "" && os.Getenv("DCVMAIL_ARTIFACTS") != "" {
		dir = filepath.Join(os.Getenv("DCVMAIL_ARTIFACTS"), "screenshots")
	}
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shoot(t *testing.T, tab context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "mailbox-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("screenshot:", file)
}

// A person reads the mailbox: the list, a search, one DCV email with its
// HTML in the sandboxed frame, its text, headers and source, and the link
// to the confirmation page; and a hostile message runs nothing.
func TestBrowserMailboxPage(t *testing.T) {
	tab := browser(t)
	e := start(t)
	hostileID := hostile(t, e)
	for _, d := range []string{"example.org", "shop.example.net", "example.com"} {
		e.AddOrder("alice", []string{d, "www." + d}, 0, "admin@"+d)
	}
	e.Drain()
	dir := screenshotDir(t)

	if err := chromedp.Do(tab, chromedp.Navigate(e.admin+"/"), chromedp.WaitVisible(chromedp.CSS("table.list"))); err != nil {
		t.Fatal(err)
	}
	shoot(t, tab, dir, "list")
	rows, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("table.list tbody")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rows, `<script>alert("subject")</script>`) || strings.Index(rows, "<script>") < strings.Index(rows, "admin@shop.example.net") {
		t.Fatalf("list (newest first: the hostile message, captured first, is last; its subject shown as text):\n%s", rows)
	}
	title, _ := chromedp.Run(tab, chromedp.Title())
	if title != "dcvmail mailbox" {
		t.Fatalf("title %q: a message's script ran?", title)
	}

	// Search with the form, no script.
	// The list page has the same table: wait for the search's own page to
	// load first (RunResponse), or the screenshot can catch the tab between
	// documents (CI saw "Cannot take screenshot with 0 width").
	if _, err := chromedp.RunResponse(tab,
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), "to:admin@shop.example.net"),
		chromedp.Click(chromedp.CSS(`.search button`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("table.list"))); err != nil {
		t.Fatal(err)
	}
	shoot(t, tab, dir, "search")
	rows, _ = chromedp.Run(tab, chromedp.Text(chromedp.CSS("table.list tbody")))
	if !strings.Contains(rows, "admin@shop.example.net") || strings.Contains(rows, "admin@example.org") {
		t.Fatalf("search:\n%s", rows)
	}

	// One DCV email.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`td.subject a`)), chromedp.WaitVisible(chromedp.CSS("iframe.html"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the frame's document
	shoot(t, tab, dir, "message-html")
	sandbox, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("iframe.html"), "sandbox"))
	if err != nil || !sandbox.Exists || sandbox.Value != "" {
		t.Fatalf("frame sandbox %+v %v", sandbox, err)
	}
	confirm, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("a.button"), "href"))
	if err != nil || !strings.Contains(confirm.Value, "/products/EnterDCVCode2") || !strings.Contains(confirm.Value, "dcvCode=") {
		t.Fatalf("confirmation link %+v %v", confirm, err)
	}
	for _, tabName := range []string{"text", "headers", "source"} {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`.tabs a[href="?tab=`+tabName+`"]`)), chromedp.WaitVisible(chromedp.CSS(`.tabs a[aria-current][href="?tab=`+tabName+`"]`))); err != nil {
			t.Fatal(err)
		}
		shoot(t, tab, dir, "message-"+tabName)
	}
	text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("pre.source")))
	if !strings.Contains(text, "Auto-Submitted: auto-generated") {
		t.Fatalf("source:\n%s", text)
	}

	// The hostile message: its markup is text, its HTML sits in the frame
	// and its script does not run (the page's title stays).
	if err := chromedp.Do(tab, chromedp.Navigate(e.admin+"/view/"+hostileID), chromedp.WaitVisible(chromedp.CSS("iframe.html"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	shoot(t, tab, dir, "hostile")
	h1, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1")))
	title, _ = chromedp.Run(tab, chromedp.Title())
	scripts, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.scripts.length`))
	if !strings.HasPrefix(h1, "<script>") || strings.Contains(title, "pwned") || scripts != 0 {
		t.Fatalf("hostile message: h1 %q title %q scripts %d", h1, title, scripts)
	}
}
