// Package faults keeps the fault rules of the test controls
// (docs/control.md, "Fault rules") and decides which request a rule hits.
// The rules live in the database, so that every node applies them and a
// rule's times count across nodes; each node caches them and re-reads them
// at most every Refresh (the node that changes them at once).
//
// With no rule, a request pays two atomic loads and a monotonic clock
// reading (Active); without --test-controls the Set is nil and a request
// pays a nil check.
package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// Phases of a rule.
const (
	Before = "before" // the fault answers instead of the call; nothing changes
	After  = "after"  // the call runs and commits, then its answer is replaced or dropped
)

// MaxDelay bounds a rule's delay: the listeners' write timeout (30 s) would
// cut a longer one short.
const MaxDelay = 20 * time.Second

// Rule is a fault rule as the control API takes and shows it.
type Rule struct {
	ID           string  `json:"id"`
	Endpoint     string  `json:"endpoint"`
	Login        string  `json:"login,omitempty"`
	OrderNumber  int64   `json:"orderNumber,omitempty"`
	Phase        string  `json:"phase"`
	ErrorCode    int     `json:"errorCode,omitempty"`
	ErrorMessage string  `json:"errorMessage,omitempty"`
	HTTPStatus   int     `json:"httpStatus,omitempty"`
	Delay        string  `json:"delay,omitempty"`
	Drop         bool    `json:"drop"`
	Times        int     `json:"times"`
	Probability  float64 `json:"probability"`
	// Fired is how many requests the rule has hit (on every node).
	Fired   int       `json:"fired"`
	Created time.Time `json:"createdAt"`

	delay time.Duration
}

// input is a rule as sent: pointers tell absent from zero.
type input struct {
	Endpoint     *string  `json:"endpoint"`
	Login        string   `json:"login"`
	OrderNumber  int64    `json:"orderNumber"`
	Phase        string   `json:"phase"`
	ErrorCode    int      `json:"errorCode"`
	ErrorMessage string   `json:"errorMessage"`
	HTTPStatus   int      `json:"httpStatus"`
	Delay        string   `json:"delay"`
	Drop         bool     `json:"drop"`
	Times        *int     `json:"times"`
	Probability  *float64 `json:"probability"`
}

// InputError is a rule the control API refuses; its text says why.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &InputError{fmt.Sprintf(format, args...)} }

var endpointName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}$`)

// Parse reads and checks a rule sent to the control API; endpoints are the
// names a rule may hit ("*" hits them all).
func Parse(body []byte, endpoints []string) (Rule, error) {
	var in input
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Rule{}, bad("the body must be one JSON fault rule (docs/control.md): %v", err)
	}
	if in.Endpoint == nil || *in.Endpoint == "" {
		return Rule{}, bad(`"endpoint" is required: an API call's name without "!" (one of %s), or "*"`, strings.Join(endpoints, ", "))
	}
	r := Rule{Endpoint: strings.TrimPrefix(*in.Endpoint, "!"), Login: in.Login, OrderNumber: in.OrderNumber, Phase: in.Phase,
		ErrorCode: in.ErrorCode, ErrorMessage: in.ErrorMessage, HTTPStatus: in.HTTPStatus, Delay: in.Delay, Drop: in.Drop, Times: 1, Probability: 1}
	if r.Endpoint != "*" && (!endpointName.MatchString(r.Endpoint) || !slices.Contains(endpoints, r.Endpoint)) {
		return Rule{}, bad(`endpoint %q: want one of %s, or "*"`, r.Endpoint, strings.Join(endpoints, ", "))
	}
	if r.OrderNumber < 0 {
		return Rule{}, bad(`"orderNumber" must be a positive order number`)
	}
	switch r.Phase {
	case "":
		r.Phase = Before
	case Before, After:
	default:
		return Rule{}, bad(`phase %q: want "before" or "after"`, r.Phase)
	}
	if r.Delay != "" {
		d, err := time.ParseDuration(r.Delay)
		if err != nil || d < 0 || d > MaxDelay {
			return Rule{}, bad(`delay %q: want a Go duration from "0s" to %q`, r.Delay, MaxDelay.String())
		}
		r.delay = d
	}
	if r.HTTPStatus != 0 && (r.HTTPStatus < 100 || r.HTTPStatus > 599) {
		return Rule{}, bad(`httpStatus %d: want an HTTP status from 100 to 599, or 0`, r.HTTPStatus)
	}
	if r.ErrorCode > 0 {
		return Rule{}, bad(`errorCode %d: want a negative errorCode (docs/api.md), or 0`, r.ErrorCode)
	}
	if r.ErrorCode < 0 && r.ErrorMessage == "" && !wire.Known(wire.Code(r.ErrorCode)) {
		return Rule{}, bad(`errorCode %d has no message in the table: give "errorMessage"`, r.ErrorCode)
	}
	if len(r.ErrorMessage) > 1000 {
		return Rule{}, bad(`"errorMessage" is longer than 1000 characters`)
	}
	if effects := btoi(r.Drop) + btoi(r.HTTPStatus != 0) + btoi(r.ErrorCode != 0); effects > 1 {
		return Rule{}, bad(`give at most one of "drop", "httpStatus" and "errorCode" (each answers the request its own way)`)
	} else if effects == 0 && r.delay == 0 {
		return Rule{}, bad(`the rule does nothing: give "delay", "drop", "httpStatus" or "errorCode"`)
	}
	if in.Times != nil {
		if *in.Times < 0 {
			return Rule{}, bad(`times %d: want 1 or more, or 0 for until deleted`, *in.Times)
		}
		r.Times = *in.Times
	}
	if in.Probability != nil {
		if p := *in.Probability; !(p > 0 && p <= 1) {
			return Rule{}, bad(`probability %v: want a number in (0, 1]`, p)
		}
		r.Probability = *in.Probability
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Set is the rules in force, cached from the store.
type Set struct {
	st      Store
	refresh time.Duration

	rules   atomic.Pointer[[]Rule]
	checked atomic.Int64 // monotonic nanoseconds of the last read
	loading atomic.Bool
}

// DefaultRefresh is how long another node may take to see changed rules.
const DefaultRefresh = time.Second

var monoStart = time.Now()

func mono() int64 { return int64(time.Since(monoStart)) }

// New returns the Set of the rules in st, read now.
func New(ctx context.Context, st Store, refresh time.Duration) (*Set, error) {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	s := &Set{st: st, refresh: refresh}
	return s, s.Reload(ctx)
}

// Reload reads the rules now.
func (s *Set) Reload(ctx context.Context) error {
	stored, err := s.st.FaultRules(ctx)
	if err != nil {
		return err
	}
	rules := make([]Rule, 0, len(stored))
	for _, sr := range stored {
		var r Rule
		if err := json.Unmarshal([]byte(sr.Rule), &r); err != nil {
			return fmt.Errorf("faults: rule %d: %w", sr.ID, err)
		}
		r.ID, r.Times, r.Fired, r.Created = strconv.FormatInt(sr.ID, 10), sr.Times, sr.Fired, sr.Created
		r.delay, _ = time.ParseDuration(r.Delay)
		rules = append(rules, r)
	}
	s.rules.Store(&rules)
	s.checked.Store(mono())
	return nil
}

// Active tells whether any rule may hit a request; it costs next to
// nothing. A nil Set (no test controls) has none.
func (s *Set) Active() bool {
	if s == nil {
		return false
	}
	if mono()-s.checked.Load() > int64(s.refresh) && s.loading.CompareAndSwap(false, true) {
		go func() {
			defer s.loading.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if s.Reload(ctx) != nil {
				s.checked.Store(mono()) // keep the cached rules; retry after refresh
			}
		}()
	}
	p := s.rules.Load()
	return p != nil && len(*p) > 0
}

// Rules lists the rules, oldest first, with how often each fired.
func (s *Set) Rules(ctx context.Context) ([]Rule, error) {
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return *s.rules.Load(), nil
}

// Store keeps the rules (a *store.Store): read and written through
// transactions, but for counting a hit, which stands alone.
type Store interface {
	model.Store
	FireFaultRule(ctx context.Context, id int64) (bool, error)
}

// Add stores a rule and returns its id.
func (s *Set) Add(ctx context.Context, r Rule, now time.Time) (string, error) {
	r.Created, r.Fired, r.ID = now, 0, ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	var id int64
	err = s.st.Tx(ctx, func(tx model.Tx) (err error) {
		id, err = tx.AddFaultRule(ctx, model.FaultRule{Rule: string(b), Times: r.Times, Created: now})
		return err
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), s.Reload(ctx)
}

// ErrNoRule: no rule has the id.
var ErrNoRule = errors.New("no such fault rule")

// Delete deletes the rule with id, or every rule with id "".
func (s *Set) Delete(ctx context.Context, id string) error {
	var n int64
	if id != "" {
		var err error
		if n, err = strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
			return ErrNoRule
		}
	}
	var deleted int64
	err := s.st.Tx(ctx, func(tx model.Tx) (err error) {
		deleted, err = tx.DeleteFaultRules(ctx, n)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.Reload(ctx); err != nil {
		return err
	}
	if id != "" && deleted == 0 {
		return ErrNoRule
	}
	return nil
}

// Fire finds the oldest rule of phase that matches a request and fires,
// and counts the hit; ok is false when none does. A rule that used up its
// times on another node is skipped.
func (s *Set) Fire(ctx context.Context, phase, endpoint, login string, order int64) (Rule, bool) {
	if !s.Active() {
		return Rule{}, false
	}
	for _, r := range *s.rules.Load() {
		if r.Phase != phase || (r.Endpoint != "*" && r.Endpoint != endpoint) ||
			(r.Login != "" && r.Login != login) || (r.OrderNumber != 0 && r.OrderNumber != order) {
			continue
		}
		if r.Probability < 1 && rand.Float64() >= r.Probability {
			continue
		}
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		ok, err := s.st.FireFaultRule(ctx, id)
		if err != nil || !ok {
			continue
		}
		if r.Times != 0 {
			s.Reload(ctx) // it may be used up now: stop matching it at once
		}
		return r, true
	}
	return Rule{}, false
}

// Wait waits the rule's delay, or until the request is gone; it tells
// whether the request is still there.
func (r Rule) Wait(ctx context.Context) bool {
	if r.delay <= 0 {
		return true
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Answers tells whether the rule answers the request (drop, status or
// errorCode) rather than only delaying it.
func (r Rule) Answers() bool { return r.Drop || r.HTTPStatus != 0 || r.ErrorCode != 0 }

// Answer answers the request as the rule says, after its delay: drop
// closes the connection with no answer (http.ErrAbortHandler: the caller's
// recover must let it through), httpStatus answers that status with an
// empty body, errorCode answers encode's bytes with status 200. It tells
// whether it answered; a rule that only delays does not.
func (r Rule) Answer(w http.ResponseWriter, req *http.Request, encode func(wire.Code, string) (contentType string, body []byte)) bool {
	if !r.Wait(req.Context()) {
		panic(http.ErrAbortHandler)
	}
	switch {
	case r.Drop:
		panic(http.ErrAbortHandler)
	case r.HTTPStatus != 0:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(r.HTTPStatus)
		return true
	case r.ErrorCode != 0:
		ct, body := encode(wire.Code(r.ErrorCode), r.ErrorMessage)
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		return true
	}
	return false
}

// Recorder holds a handler's answer so that an after-phase rule may replace
// it; Flush sends it on unchanged.
type Recorder struct {
	w      http.ResponseWriter
	header http.Header
	status int
	body   []byte
}

// NewRecorder returns a Recorder in front of w.
func NewRecorder(w http.ResponseWriter) *Recorder { return &Recorder{w: w, header: http.Header{}} }

// Header is the held answer's header.
func (r *Recorder) Header() http.Header { return r.header }

// WriteHeader holds the status.
func (r *Recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// Write holds body bytes.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

// Flush sends the held answer.
func (r *Recorder) Flush() {
	h := r.w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.w.WriteHeader(r.status)
	r.w.Write(r.body)
}
