package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/dcvmail/dcvmail/internal/config"
)

// guardOptions say who may call the admin listener (docs: control.md, "Who
// may call it").
type guardOptions struct {
	token string   // required as "Authorization: Bearer TOKEN" when not ""
	hosts []string // Host names accepted: the listener's address, localhost, --admin-host
}

// adminGuard reads the admin token (--admin-token-file wins over
// DCVMAIL_ADMIN_TOKEN) and refuses a listener on a non-loopback address
// without one.
func adminGuard(g config.Guard, ln net.Listener) (guardOptions, error) {
	token := strings.TrimSpace(g.AdminToken)
	if g.AdminTokenFile != "" {
		b, err := os.ReadFile(g.AdminTokenFile)
		if err != nil {
			return guardOptions{}, fmt.Errorf("--admin-token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return guardOptions{}, errors.New("--admin-token-file: the file is empty")
		}
	}
	addr, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		return guardOptions{}, fmt.Errorf("--admin-listen: %w", err)
	}
	if !addr.Addr().IsLoopback() && token == "" {
		return guardOptions{}, fmt.Errorf("--admin-listen %s is not a loopback address: give a token with --admin-token-file or DCVMAIL_ADMIN_TOKEN", addr)
	}
	hosts := []string{"localhost", addr.Addr().Unmap().String()}
	hosts = append(hosts, g.AdminHosts...)
	return guardOptions{token: token, hosts: hosts}, nil
}

// guard lets through to next only requests whose Host names the listener
// (421 otherwise: a browser page that rebound a name to 127.0.0.1 sends
// its own name), carrying the bearer token when one is configured (401).
// /healthz and /readyz never need the token.
func guard(opts guardOptions, next http.Handler) http.Handler {
	want := []byte("Bearer " + opts.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		ok := false
		for _, h := range opts.hosts {
			if strings.EqualFold(host, h) {
				ok = true
			}
		}
		if !ok {
			guardError(w, http.StatusMisdirectedRequest, "this listener does not answer to the host "+fmt.Sprintf("%q", r.Host)+"; use its address, localhost, or a name given with --admin-host")
			return
		}
		if opts.token != "" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dcvmail admin"`)
			guardError(w, http.StatusUnauthorized, "send the admin token as Authorization: Bearer TOKEN")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func guardError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
