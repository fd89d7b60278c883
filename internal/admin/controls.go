package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/faults"
)

// controlRoutes mounts the test controls, or, without --test-controls, a
// 404 on their paths that says how to turn them on.
func (h *handler) controlRoutes(mux *http.ServeMux) {
	routes := map[string]http.HandlerFunc{
		"POST /admin/v1/reset":               h.reset,
		"GET /admin/v1/clock":                h.getClock,
		"POST /admin/v1/clock":               h.setClock,
		"POST /admin/v1/orders/{n}/validate": h.validate,
		"POST /admin/v1/faults":              h.addFault,
		"GET /admin/v1/faults":               h.listFaults,
		"DELETE /admin/v1/faults":            h.deleteFaults,
		"DELETE /admin/v1/faults/{id}":       h.deleteFaults,
	}
	for pattern, fn := range routes {
		if h.Controls == nil {
			fn = func(w http.ResponseWriter, r *http.Request) {
				writeError(w, http.StatusNotFound, "test controls are off: start dcvmail serve with --test-controls (or DCVMAIL_TEST_CONTROLS=true, or --demo) to use "+r.URL.Path)
			}
		}
		mux.HandleFunc(pattern, fn)
	}
}

// reset wipes what tests create and keeps keys, TLS material and templates.
func (h *handler) reset(w http.ResponseWriter, r *http.Request) {
	c := h.Controls
	if err := h.App.Store.Reset(r.Context()); err != nil {
		h.internal(w, "reset", err)
		return
	}
	c.Clock.Set(0)
	if err := c.Faults.Reload(r.Context()); err != nil {
		h.internal(w, "reset: fault rules", err)
		return
	}
	if c.Reseed != nil {
		if err := c.Reseed(r.Context()); err != nil {
			h.internal(w, "reset: demo data", err)
			return
		}
	}
	h.Log.Info("test controls: reset")
	w.WriteHeader(http.StatusNoContent)
}

type clockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

func (h *handler) clockState() clockState {
	return clockState{Now: h.Controls.Clock.Now().UTC(), Offset: h.Controls.Clock.Current().String()}
}

func (h *handler) getClock(w http.ResponseWriter, r *http.Request) {
	if err := h.Controls.Clock.Reload(r.Context()); err != nil {
		h.internal(w, "clock", err)
		return
	}
	writeJSON(w, http.StatusOK, h.clockState())
}

// setClock advances the clock, or sets it to a time; the offset from the
// real time never goes below zero. It wakes the outbox worker.
func (h *handler) setClock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Advance string `json:"advance"`
		Set     string `json:"set"`
	}
	if !decode(w, r, &in, false) {
		return
	}
	if (in.Advance == "") == (in.Set == "") {
		writeError(w, http.StatusBadRequest, `give one of "advance" (a duration such as "25h") or "set" (an RFC 3339 time)`)
		return
	}
	var advance time.Duration
	var at time.Time
	var err error
	if in.Advance != "" {
		if advance, err = time.ParseDuration(in.Advance); err != nil || advance < 0 {
			writeError(w, http.StatusBadRequest, "advance "+strconv.Quote(in.Advance)+`: want a duration that is not negative, such as "25h" or "90s" (time does not run backwards)`)
			return
		}
	} else if at, err = time.Parse(time.RFC3339, in.Set); err != nil {
		writeError(w, http.StatusBadRequest, "set "+strconv.Quote(in.Set)+`: want an RFC 3339 time such as "2027-01-01T00:00:00Z"`)
		return
	}
	c := h.Controls
	offset, moved, err := h.App.Store.ChangeClockOffset(r.Context(), func(cur time.Duration) (time.Duration, bool) {
		next := at.Sub(c.Clock.Base().Now())
		if in.Advance != "" {
			next = cur + advance
		}
		return next, next >= 0 && (in.Advance == "" || next >= cur)
	})
	if err != nil {
		h.internal(w, "clock", err)
		return
	}
	if !moved {
		writeError(w, http.StatusBadRequest, "set "+strconv.Quote(in.Set)+": that is before the real time; the test clock only runs ahead of it (POST /admin/v1/reset returns it to the real time)")
		return
	}
	c.Clock.Set(offset)
	if c.Wake != nil {
		c.Wake()
	}
	h.Log.Info("test controls: clock moved", "offset", offset.String(), "now", c.Clock.Now())
	writeJSON(w, http.StatusOK, h.clockState())
}

// validate marks an order's domains validated by a test control.
func (h *handler) validate(w http.ResponseWriter, r *http.Request) {
	n, ok := orderNumber(w, r)
	if !ok {
		return
	}
	var in struct {
		Domain       string `json:"domain"`
		Organization bool   `json:"organization"`
	}
	if !decode(w, r, &in, true) {
		return
	}
	_, err := h.DCV.ValidateByControl(r.Context(), n, in.Domain, in.Organization)
	if e, refused := dcv.AsError(err); refused {
		writeError(w, http.StatusBadRequest, e.Detail)
		return
	}
	switch {
	case errors.Is(err, dcv.ErrNoOrder):
		writeError(w, http.StatusNotFound, "no order "+strconv.FormatInt(n, 10))
	case err != nil:
		h.internal(w, "validate", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handler) addFault(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		return
	}
	rule, err := faults.Parse(b, h.Controls.Endpoints)
	var ie *faults.InputError
	if errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, ie.Msg)
		return
	} else if err != nil {
		h.internal(w, "fault rule", err)
		return
	}
	id, err := h.Controls.Faults.Add(r.Context(), rule, h.DCV.Now())
	if err != nil {
		h.internal(w, "fault rule", err)
		return
	}
	h.Log.Info("test controls: fault rule added", "id", id, "endpoint", rule.Endpoint, "phase", rule.Phase)
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (h *handler) listFaults(w http.ResponseWriter, r *http.Request) {
	rules, err := h.Controls.Faults.Rules(r.Context())
	if err != nil {
		h.internal(w, "fault rules", err)
		return
	}
	writeJSON(w, http.StatusOK, rules)
}

func (h *handler) deleteFaults(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := h.Controls.Faults.Delete(r.Context(), id)
	switch {
	case errors.Is(err, faults.ErrNoRule):
		writeError(w, http.StatusNotFound, "no fault rule "+strconv.Quote(id))
	case err != nil:
		h.internal(w, "fault rules", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
