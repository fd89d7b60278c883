package dcvmailtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Mailbox is the server's built-in mailbox: every DCV email it sends lands
// here instead of on the internet.
type Mailbox struct {
	s    *Server
	mu   sync.Mutex
	seen map[string]string // query → ID of the last message Wait returned for it
}

// Address is a mailbox address.
type Address struct {
	Name    string
	Address string
}

// Message is one captured email, with the fields of Mailpit's message that
// tests use and dcvmail's own OrderNumber and DCVCode.
type Message struct {
	ID          string
	MessageID   string
	From        *Address
	To          []*Address
	Subject     string
	Date        time.Time
	Text        string
	HTML        string
	OrderNumber int64
	DCVCode     string
}

// Wait returns the next message matching query (Mailpit's search syntax:
// "to:admin@example.com", "order:10000001", "subject:word"): the oldest
// one newer than what Wait last returned for the same query, waiting up to
// ten seconds for it to arrive. It fails the test when none does. So two
// resends followed by two Waits give the two emails in turn.
func (m *Mailbox) Wait(query string) Message {
	m.mu.Lock()
	after := m.seen[query]
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := m.WaitContext(ctx, query, after)
	if err != nil {
		m.s.fail(fmt.Errorf("waiting for a message matching %q: %w", query, err))
	}
	m.mu.Lock()
	if m.seen == nil {
		m.seen = map[string]string{}
	}
	m.seen[query] = msg.ID
	m.mu.Unlock()
	return msg
}

// WaitContext returns the oldest message matching query whose ID is above
// after ("" for any), as soon as it is captured; ErrTimeout when ctx ends
// first.
func (m *Mailbox) WaitContext(ctx context.Context, query, after string) (Message, error) {
	for {
		wait := 30 * time.Second // the server's longest wait
		if d, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(d))
		}
		if wait < time.Millisecond {
			<-ctx.Done() // what is left is too short for a request
			return Message{}, ErrTimeout
		}
		v := url.Values{"query": {query}, "timeout": {wait.String()}}
		if after != "" {
			v.Set("after", after)
		}
		var msg Message
		err := m.s.adminCtx(ctx, http.MethodGet, "/admin/v1/mailbox/wait?"+v.Encode(), nil, http.StatusOK, &msg)
		var ae *AdminError
		switch {
		case err == nil:
			return msg, nil
		case errors.As(err, &ae) && ae.Status == http.StatusRequestTimeout:
			continue // the server's wait ended; ours may not have
		case ctx.Err() != nil:
			return Message{}, ErrTimeout
		default:
			return Message{}, err
		}
	}
}

// Messages returns the messages matching query, newest first ("" for all).
func (m *Mailbox) Messages(query string) []Message {
	var list struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	path := "/api/v1/messages?limit=1000"
	if query != "" {
		path = "/api/v1/search?limit=1000&query=" + url.QueryEscape(query)
	}
	if err := m.s.admin(http.MethodGet, path, nil, http.StatusOK, &list); err != nil {
		m.s.fail(err)
	}
	out := make([]Message, 0, len(list.Messages))
	for _, sum := range list.Messages {
		var msg Message
		if err := m.s.admin(http.MethodGet, "/api/v1/message/"+url.PathEscape(sum.ID), nil, http.StatusOK, &msg); err != nil {
			m.s.fail(err)
		}
		out = append(out, msg)
	}
	return out
}

// DeleteAll empties the mailbox.
func (m *Mailbox) DeleteAll() {
	if err := m.s.admin(http.MethodDelete, "/api/v1/messages", nil, http.StatusOK, nil); err != nil {
		m.s.fail(err)
	}
	m.forget()
}

// forget drops what Wait returned: the mailbox was emptied.
func (m *Mailbox) forget() {
	m.mu.Lock()
	m.seen = nil
	m.mu.Unlock()
}

// Clock is the server's clock: every rule that reads time (code expiry, the
// 24-hour rule, resend limits, lockouts, delivery retries) reads it.
type Clock struct{ s *Server }

type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

// Now is the server's time.
func (c *Clock) Now() time.Time {
	var st clockState
	if err := c.s.admin(http.MethodGet, "/admin/v1/clock", nil, http.StatusOK, &st); err != nil {
		c.s.fail(err)
	}
	return st.Now
}

// Advance moves the server's time forward by d and returns the new time.
// Deliveries due by then are tried at once.
func (c *Clock) Advance(d time.Duration) time.Time {
	return c.post(map[string]any{"advance": d.String()})
}

// Set moves the server's time forward to when (never backwards).
func (c *Clock) Set(when time.Time) time.Time {
	return c.post(map[string]any{"set": when.UTC().Format(time.RFC3339)})
}

func (c *Clock) post(body map[string]any) time.Time {
	var st clockState
	if err := c.s.admin(http.MethodPost, "/admin/v1/clock", body, http.StatusOK, &st); err != nil {
		c.s.fail(err)
	}
	return st.Now
}

// Faults make the server misbehave on purpose, for a chosen call.
type Faults struct{ s *Server }

// Fault is a rule. Endpoint is an API call's name without "!"
// ("ResendDCVEmail", "GetDCVEmailAddressList", ...), "EnterDCVCode2" or "*".
//
// Phase "before" answers instead of the call (nothing changes); "after"
// lets the call run and commit, then replaces or drops its answer: the
// "did my request happen?" case. Effects combine: Delay waits first; then
// Drop closes the connection with no answer, or HTTPStatus answers that
// status with an empty body, or ErrorCode answers that code in the
// endpoint's own format. Times is how many matching requests it hits (0:
// until deleted; Add makes a zero Times with no Forever mean 1).
type Fault struct {
	Endpoint     string
	Login        string
	OrderNumber  int64
	Phase        string // "before" (the default) or "after"
	ErrorCode    int
	ErrorMessage string
	HTTPStatus   int
	Delay        time.Duration
	Drop         bool
	Times        int
	Forever      bool    // hit every matching request until deleted
	Probability  float64 // 0 means 1
}

// Add installs a rule and returns its ID.
func (f *Faults) Add(r Fault) string {
	id, err := f.add(r)
	if err != nil {
		f.s.fail(err)
	}
	return id
}

func (f *Faults) add(r Fault) (string, error) {
	body := map[string]any{"endpoint": r.Endpoint}
	set := func(k string, v any, present bool) {
		if present {
			body[k] = v
		}
	}
	set("login", r.Login, r.Login != "")
	set("orderNumber", r.OrderNumber, r.OrderNumber != 0)
	set("phase", r.Phase, r.Phase != "")
	set("errorCode", r.ErrorCode, r.ErrorCode != 0)
	set("errorMessage", r.ErrorMessage, r.ErrorMessage != "")
	set("httpStatus", r.HTTPStatus, r.HTTPStatus != 0)
	set("delay", r.Delay.String(), r.Delay != 0)
	set("drop", true, r.Drop)
	set("probability", r.Probability, r.Probability != 0)
	switch {
	case r.Forever:
		body["times"] = 0
	case r.Times > 0:
		body["times"] = r.Times
	}
	var out struct {
		ID json.Number `json:"id"`
	}
	if err := f.s.admin(http.MethodPost, "/admin/v1/faults", body, http.StatusCreated, &out); err != nil {
		return "", err
	}
	return out.ID.String(), nil
}

// Delete removes one rule.
func (f *Faults) Delete(id string) {
	if err := f.s.admin(http.MethodDelete, "/admin/v1/faults/"+url.PathEscape(id), nil, http.StatusNoContent, nil); err != nil {
		f.s.fail(err)
	}
}

// Clear removes every rule.
func (f *Faults) Clear() {
	if err := f.s.admin(http.MethodDelete, "/admin/v1/faults", nil, http.StatusNoContent, nil); err != nil {
		f.s.fail(err)
	}
}

// Fired returns how many times the rule has fired.
func (f *Faults) Fired(id string) int {
	var rules []map[string]any
	if err := f.s.admin(http.MethodGet, "/admin/v1/faults", nil, http.StatusOK, &rules); err != nil {
		f.s.fail(err)
	}
	for _, r := range rules {
		if fmt.Sprint(r["id"]) == id {
			n, _ := strconv.Atoi(fmt.Sprint(r["fired"]))
			return n
		}
	}
	f.s.fail(fmt.Errorf("no fault rule %s", id))
	return 0
}
