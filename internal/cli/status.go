package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dcvmail/dcvmail/internal/health"
)

// errNotReady is status's answer for a server that answered "not ready":
// the checks are printed, the exit status is non-zero.
type errNotReady struct{}

func (errNotReady) Error() string { return "the server is not ready (see the failing checks above)" }

var statusCmd = &command{
	name:     "status",
	synopsis: "[--admin-listen ADDR | --admin-url URL] [--json]",
	summary:  "print the readiness checks of a running server",
	about: `Reads /readyz from the server's admin listener and exits non-zero when
the server is not ready or does not answer. --admin-listen reads
DCVMAIL_ADMIN_LISTEN like serve, so with the service's environment file
loaded it finds the server by itself.`,
	examples: []string{"dcvmail status --admin-listen 127.0.0.1:9090", "dcvmail status --admin-url http://10.0.0.5:9090 --json"},
	setup: func(fs *flag.FlagSet, k *call) func(context.Context) error {
		var listen, base string
		var asJSON bool
		var timeout time.Duration
		fs.StringVar(&listen, "admin-listen", "", "the server's --admin-listen address")
		fs.StringVar(&base, "admin-url", "", "base URL of the admin listener, e.g. http://10.0.0.5:9090 (instead of --admin-listen)")
		fs.BoolVar(&asJSON, "json", false, "print /readyz's JSON as it came")
		fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the answer")
		return func(context.Context) error {
			if base == "" {
				if listen == "" {
					return usagef("status needs --admin-listen ADDR or --admin-url URL (or DCVMAIL_ADMIN_LISTEN)")
				}
				u, err := adminURL(listen)
				if err != nil {
					return usagef("%v", err)
				}
				base = u
			}
			return readiness(base, asJSON, timeout, k.env)
		}
	},
}

// readiness prints the readiness report of the admin listener at base.
func readiness(base string, asJSON bool, timeout time.Duration, env Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/readyz", nil)
	if err != nil {
		return usagef("--admin-url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status: the server did not answer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("status: reading the answer: %w", err)
	}
	var rep health.Report
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &rep) != nil || rep.Checks == nil {
		return fmt.Errorf("status: %s/readyz answered %s, not a readiness report: %.200q", base, resp.Status, body)
	}
	if asJSON {
		env.Stdout.Write(body)
	} else {
		printReport(env.Stdout, rep)
	}
	if !rep.Ready || resp.StatusCode != http.StatusOK {
		return errNotReady{}
	}
	return nil
}

// adminURL turns an --admin-listen address into a URL to reach it: an
// unspecified host (":9090", "0.0.0.0:9090") is reached on loopback.
func adminURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--admin-listen %q: %v", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// printReport prints the verdict and one line per check: the three of the
// contract first, then any others by name.
func printReport(w io.Writer, rep health.Report) {
	verdict := "ready"
	if !rep.Ready {
		verdict = "NOT READY"
	}
	fmt.Fprintln(w, verdict)
	names := make([]string, 0, len(rep.Checks))
	for n := range rep.Checks {
		names = append(names, n)
	}
	order := func(n string) int {
		if i := slices.Index([]string{"database", "outbox", "smtp"}, n); i >= 0 {
			return i
		}
		return 3
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range names {
		c := rep.Checks[n]
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n, mark, c.Detail)
	}
	tw.Flush()
}
