package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/dcvmail/dcvmail/internal/wire"
)

// Step is one measured run of load against one endpoint.
type Step struct {
	Name        string  `json:"name"`               // "ceiling", "resend"
	Mode        string  `json:"mode"`               // "closed" (fixed concurrency) or "rate" (open loop)
	Concurrency int     `json:"concurrency"`        // closed loop: requests in flight
	Rate        float64 `json:"rate"`               // open loop: requests per second asked for
	Orders      int     `json:"orders"`             // orders in the database the requests pick from
	Picked      int     `json:"picked,omitempty"`   // when not all Orders: requests picked from the newest Picked orders
	Delivery    string  `json:"delivery,omitempty"` // resend: "held" until the step ended, or "running" during it
	Backlog     int     `json:"backlog,omitempty"`  // deliveries pending when a running step ended
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`     // answered HTTP 200 with the expected body
	Errors      int     `json:"errors"` // anything else
	// Refused counts the errors that were -14 answers (the admission
	// gate's, or the request limit's), Refusals their latency.
	Refused    int      `json:"refused,omitempty"`
	Refusals   *Latency `json:"refusals,omitempty"`
	FirstError string   `json:"firstError"` // what the first error was
	Throughput float64  `json:"throughput"` // OK answers per second
	// CPUMicros is this process's CPU time (user and system, all threads:
	// server, worker and load generator) per OK answer. Unlike throughput it
	// hardly moves when other processes load the machine.
	// With a PostgreSQL the bench started, its processes' CPU time is
	// added: the database's work is part of each call's.
	CPUMicros float64 `json:"cpuMicrosPerRequest"`
	// CPUWithDelivery adds the CPU time spent after the step until the
	// outbox had delivered what the step queued (resend steps).
	CPUWithDelivery float64 `json:"cpuMicrosWithDelivery,omitempty"`
	// Exhausted: the step ended early, its target having no request left
	// (the confirmation page's live codes were used up).
	Exhausted bool `json:"exhausted,omitempty"`
	Latency

	cpuStart time.Duration // this process's CPU time when the step began
}

// picked is how many orders the step's requests were picked from.
func (s Step) picked() int {
	if s.Picked > 0 {
		return s.Picked
	}
	return s.Orders
}

// addDelivery sets CPUWithDelivery once the step's deliveries are done,
// from the CPU time now of the loader that ran the step.
func (s *Step) addDelivery(now time.Duration) {
	if s.OK > 0 {
		s.CPUWithDelivery = round(float64(now-s.cpuStart)/1e3/float64(s.OK), 1)
	}
}

// How the outbox worker ran during a resend step.
const (
	deliveryHeld    = "held"
	deliveryRunning = "running"
)

// Latency holds exact percentiles of the OK answers, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50ms"`
	P90  float64 `json:"p90ms"`
	P99  float64 `json:"p99ms"`
	P999 float64 `json:"p999ms"`
	Max  float64 `json:"maxms"`
}

func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		// Nearest rank: the smallest value with at least p of the sample at or below it.
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ms(ds[max(0, min(i, len(ds)-1))])
	}
	return Latency{P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// client is the one HTTP client of every step: HTTP/1.1 with keep-alive
// over TLS, as the vendor's integrators (curl, PHP, Java) connect; one
// connection per request in flight.
func client(certPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		return nil, fmt.Errorf("bench: the server's certificate is not PEM")
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Protocols:           &protocols,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// hit is one request: a POST of a URL-encoded form, or a GET when method
// says so. The zero hit means there is none left (the live codes of the
// confirmation page are used up): the step ends there.
type hit struct{ method, path, body string }

// target makes the request of one hit.
type target func() hit

// postHit is a form POST to path.
func postHit(path, body string) hit { return hit{method: http.MethodPost, path: path, body: body} }

// errExhausted ends a step whose target has no request left.
var errExhausted = errors.New("bench: no request left to make")

// answered tells whether an HTTP 200 answer's body is the call's success.
type answered func(body []byte) bool

// isSuccess is the answer of a successful ResendDCVEmail (and the ceiling).
func isSuccess(body []byte) bool { return string(body) == string(wire.Success) }

// loader runs steps against one server with one client.
type loader struct {
	base   string // https://127.0.0.1:port
	client *http.Client
	// dbCPU, when set, is the CPU time of the database's own processes
	// (a PostgreSQL the bench started), added to this process's.
	dbCPU func() time.Duration
}

// cpu is the CPU time that the steps of l count per answer.
func (l *loader) cpu() time.Duration {
	t := cpuTime()
	if l.dbCPU != nil {
		t += l.dbCPU()
	}
	return t
}

var formHeader = http.Header{"Content-Type": []string{"application/x-www-form-urlencoded"}}

func (l *loader) targeter(t target) vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		h := t()
		if h.path == "" {
			return errExhausted
		}
		tgt.Method, tgt.URL = h.method, l.base+h.path
		tgt.Body, tgt.Header = nil, nil
		if h.method != http.MethodGet {
			tgt.Body, tgt.Header = []byte(h.body), formHeader
		}
		return nil
	}
}

// closed runs concurrency requests at a time back to back for d (after a
// warm-up of warm, not counted) and measures them.
func (l *loader) closed(name string, t target, concurrency int, warm, d time.Duration) Step {
	return l.closedCall(name, t, isSuccess, concurrency, warm, d)
}

// closedCall is closed for a call whose successful answers ok recognizes.
func (l *loader) closedCall(name string, t target, ok answered, concurrency int, warm, d time.Duration) Step {
	if warm > 0 {
		l.client.CloseIdleConnections()
		l.attack(name, t, ok, vegeta.Rate{}, uint64(concurrency), uint64(concurrency), warm)
	}
	s := l.attack(name, t, ok, vegeta.Rate{}, uint64(concurrency), uint64(concurrency), d)
	s.Mode, s.Concurrency = "closed", concurrency
	return s
}

// rate sends rate requests per second for d, whatever the answers' delay
// (an open loop: vegeta starts more workers when answers lag).
//
// Requests in flight are capped at maxOpen: without a cap, a stall of the
// server makes the generator open hundreds of new TLS connections, whose
// handshakes and buffers then deepen the stall. When the cap is reached the
// generator falls behind its rate, which the step shows (got < asked).
//
// The warm-up starts from no connection, so that what an earlier step
// opened does not weigh on this one (the server closes its side when the
// client does), and it opens the connections the step then reuses: opening
// a few hundred TLS connections at once is a storm of its own, which the
// first second of a cold step would measure instead of the API.
func (l *loader) rate(name string, t target, rate float64, warm, d time.Duration) Step {
	return l.rateCall(name, t, isSuccess, rate, maxOpen, warm, d)
}

// rateCall is rate for a call whose successful answers ok recognizes,
// with at most open requests in flight.
func (l *loader) rateCall(name string, t target, ok answered, rate float64, open uint64, warm, d time.Duration) Step {
	freq := max(1, int(math.Round(rate)))
	pace := vegeta.Rate{Freq: freq, Per: time.Second}
	l.client.CloseIdleConnections()
	if warm > 0 {
		l.attack(name, t, ok, pace, 16, open, warm)
	}
	s := l.attack(name, t, ok, pace, 16, open, d)
	s.Mode, s.Rate = "rate", float64(freq)
	return s
}

// maxOpen bounds the requests in flight of a constant-rate step;
// overloadOpen those of the overload step, which must let a queue form
// that outlasts --write-backlog-limit.
const (
	maxOpen      = 512
	overloadOpen = 4096
)

// isRefusal tells whether an answer is -14, in any of the API's formats.
func isRefusal(body []byte) bool {
	for _, p := range []string{"-14\n", "errorCode=-14&", `{"errorCode":-14,`} {
		if strings.HasPrefix(string(body), p) {
			return true
		}
	}
	return false
}

func (l *loader) attack(name string, t target, ok answered, pace vegeta.Rate, workers, maxWorkers uint64, d time.Duration) Step {
	atk := vegeta.NewAttacker(vegeta.Client(l.client), vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers), vegeta.Redirects(vegeta.NoFollow))
	var lat, refused []time.Duration
	s := Step{Name: name}
	var first, last time.Time
	cpu0 := l.cpu()
	for r := range atk.Attack(l.targeter(t), pace, d, name) {
		if r.URL == "" && r.Error == errExhausted.Error() {
			s.Exhausted = true // not a request: the target had none left
			continue
		}
		s.Requests++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.End(); end.After(last) {
			last = end
		}
		if r.Error == "" && r.Code == http.StatusOK && ok(r.Body) {
			s.OK++
			lat = append(lat, r.Latency)
			continue
		}
		s.Errors++
		if r.Error == "" && r.Code == http.StatusOK && isRefusal(r.Body) {
			refused = append(refused, r.Latency)
		}
		if s.FirstError == "" {
			s.FirstError = fmt.Sprintf("HTTP %d %s %.200q", r.Code, r.Error, r.Body)
		}
	}
	if elapsed := last.Sub(first); elapsed > 0 {
		s.Seconds = round(elapsed.Seconds(), 3)
		s.Throughput = round(float64(s.OK)/elapsed.Seconds(), 1)
	}
	s.cpuStart = cpu0
	if s.OK > 0 {
		s.CPUMicros = round(float64(l.cpu()-cpu0)/1e3/float64(s.OK), 1)
	}
	s.Latency = latencyOf(lat)
	if s.Refused = len(refused); s.Refused > 0 {
		r := latencyOf(refused)
		s.Refusals = &r
	}
	return s
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
