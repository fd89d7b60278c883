package server_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcvmail/dcvmail/internal/config"
	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/health"
)

// scrape reads /metrics and parses it with the Prometheus library's own
// parser.
func scrape(t *testing.T, s *opsServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: HTTP %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the value of the sample of family name whose labels include
// labels ("k=v,k=v"); ok is false when there is none. Histograms give
// their sample count.
func value(fams map[string]*dto.MetricFamily, name, labels string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			want[k] = v
		}
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// issue 17: /metrics is the Prometheus exposition, and each family moves
// when what it counts happens: API calls by endpoint and errorCode with
// their latency, page outcomes and refused code attempts, deliveries,
// lockouts and refusals of a locked login, the outbox backlog, the pool,
// the group commit, the process and the Go runtime.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	s := startOps(t, func(c *config.Serve) {
		c.Limits = config.Limits{LoginFailures: 3, SourceFailures: 1000, LockoutWindow: time.Hour, LockoutDuration: time.Hour,
			RequestRate: -1, RequestBurst: 1000}
	})
	s.addAccount(t, "reseller", "a long password")
	s.addAccount(t, "victim", "another long password")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := client.PostForm(s.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	before := scrape(t, s)
	for _, fam := range []string{
		"dcvmail_outbox_deliveries_total", "dcvmail_confirmation_page_requests_total", "dcvmail_login_lockouts_total",
		"dcvmail_login_locked_refusals_total", "dcvmail_code_attempts_refused_total",
		"dcvmail_write_backlog_refusals_total", "dcvmail_store_write_backlog_seconds",
		"dcvmail_outbox_pending_messages", "dcvmail_outbox_oldest_pending_age_seconds", "dcvmail_database_up",
		"dcvmail_ready", "dcvmail_ready_check",
		"go_sql_open_connections", "go_sql_max_open_connections", "go_goroutines", "go_gc_duration_seconds", "go_build_info",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "dcvmail_tls_certificate_expiry_timestamp_seconds",
		"dcvmail_connections_open", "dcvmail_connections_limited_total",
	} {
		if _, ok := before[fam]; !ok {
			t.Errorf("/metrics lacks %s", fam)
		}
	}
	if s.App.Store.Dialect() == "sqlite" {
		if _, ok := before["dcvmail_store_group_commits_total"]; !ok {
			t.Error("/metrics lacks dcvmail_store_group_commits_total on SQLite")
		}
	}

	// An order with its first email, then one resend through the API.
	order := s.sendOne(t, "reseller")
	body := post("/products/!ResendDCVEmail", url.Values{"loginName": {"reseller"}, "loginPassword": {"a long password"},
		"orderNumber": {fmt.Sprint(order)}})
	if !strings.Contains(body, "errorCode=0") {
		t.Fatalf("resend: %s", body)
	}
	// Three wrong passwords lock "victim"; the right one is then refused.
	for range 3 {
		post("/products/!ResendDCVEmail", url.Values{"loginName": {"victim"}, "loginPassword": {"wrong"}, "orderNumber": {"1"}})
	}
	post("/products/!ResendDCVEmail", url.Values{"loginName": {"victim"}, "loginPassword": {"another long password"}, "orderNumber": {"1"}})
	// Wrong codes on the page until the order's attempts are used up.
	for range dcv.CodeAttemptLimit + 1 {
		resp, err := client.PostForm(s.URL()+"/products/EnterDCVCode2", url.Values{"orderNumber": {fmt.Sprint(order)}, "dcvCode": {"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := client.Get(s.URL() + "/products/EnterDCVCode2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.waitReady(t, "the outbox drained", func(code int, _ health.Report) bool {
		n, _ := s.App.Store.PendingDeliveries(t.Context())
		return n == 0
	})

	after := scrape(t, s)
	moved := func(name, labels string, atLeast float64) {
		t.Helper()
		b, _ := value(before, name, labels)
		a, ok := value(after, name, labels)
		if !ok {
			t.Errorf("%s{%s}: no sample after the calls", name, labels)
			return
		}
		if a-b < atLeast {
			t.Errorf("%s{%s}: %v -> %v, want a rise of at least %v", name, labels, b, a, atLeast)
		}
	}
	moved("dcvmail_api_requests_total", "endpoint=ResendDCVEmail,error_code=0", 1)
	moved("dcvmail_api_requests_total", "endpoint=ResendDCVEmail,error_code=-16", 4)
	moved("dcvmail_api_request_duration_seconds", "endpoint=ResendDCVEmail", 5)
	moved("dcvmail_outbox_deliveries_total", "outcome=sent", 2)
	moved("dcvmail_login_lockouts_total", "kind=login", 1)
	moved("dcvmail_login_locked_refusals_total", "", 1)
	moved("dcvmail_confirmation_page_requests_total", "outcome=invalid,reason=rejected", 1)
	moved("dcvmail_confirmation_page_requests_total", "outcome=locked", 1)
	moved("dcvmail_confirmation_page_requests_total", "outcome=form", 1)
	moved("dcvmail_code_attempts_refused_total", "", 1)
	if s.App.Store.Dialect() == "sqlite" {
		moved("dcvmail_store_group_commits_total", "", 1)
		moved("dcvmail_store_group_commit_transactions_total", "", 1)
	}
	if v, _ := value(after, "dcvmail_database_up", ""); v != 1 {
		t.Errorf("dcvmail_database_up = %v", v)
	}
	if v, _ := value(after, "dcvmail_ready_check", "check=smtp"); v != 1 {
		t.Errorf("dcvmail_ready_check{check=smtp} = %v", v)
	}
	if v, ok := value(after, "dcvmail_outbox_pending_messages", ""); !ok || v != 0 {
		t.Errorf("dcvmail_outbox_pending_messages = %v after draining", v)
	}
}
