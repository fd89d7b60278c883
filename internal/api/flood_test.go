package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvmail/dcvmail/internal/accounts"
	"github.com/dcvmail/dcvmail/internal/api"
)

// Issue 16, item 3: a source that already has as many password checks
// waiting as one source may gets -14 with Retry-After, not -16 (its
// password was not checked), and another source is still checked. alice's
// hash is a slow one (t=10, a tenth of a second or more), so that the flooding
// source's checks are surely still waiting.
func TestBusySourceGetsTryAgainLater(t *testing.T) {
	t.Parallel()
	slow := fmt.Sprintf("$argon2id$v=19$m=19456,t=10,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(make([]byte, 16)), base64.RawStdEncoding.EncodeToString(make([]byte, 32)))
	auth := accounts.NewAuthenticator(memoryAccounts{alice: {ID: 1, Login: alice, PasswordHash: slow}})
	h := api.New(api.Config{Auth: auth, Log: slog.New(slog.DiscardHandler),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	// Each attempt a password of its own: attempts made at once with one
	// password share one check (accounts.Authenticator.verifyOnce).
	post := func(ctx context.Context, from, password string) (*http.Response, string, error) {
		body := "loginName=" + alice + "&loginPassword=" + password + "&orderNumber=10000001"
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+resendPath, strings.NewReader(body))
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// One check runs for the source, the others wait: 32 per slot.
	queue := 32 * auth.Slots()
	for i := range 1 + queue {
		wg.Go(func() { post(ctx, "198.51.100.66", "wrong-"+strconv.Itoa(i)) })
	}
	for deadline := time.Now().Add(30 * time.Second); auth.Waiting() < int64(queue); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d checks wait after 30 s, want %d", auth.Waiting(), queue)
		}
	}
	resp, got, err := post(context.Background(), "198.51.100.66", "wrong-over")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "errorCode=-14&errorMessage=") || !strings.Contains(got, "too+many+logins+in+progress+from+this+source%3B+retry+after+") {
		t.Fatalf("an attempt over the source's queue got %q, want -14 saying why", got)
	}
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
	}
	if auth.Busy() != 1 {
		t.Fatalf("Busy() = %d, want 1", auth.Busy())
	}
	// Another source's wrong password is checked, and answered -16.
	if _, got, err := post(context.Background(), "203.0.113.9", "wrong"); err != nil || !strings.HasPrefix(got, "errorCode=-16") {
		t.Fatalf("another source got %q, %v; want -16", got, err)
	}
}
