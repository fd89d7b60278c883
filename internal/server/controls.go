package server

import (
	"context"
	"net/http"

	"github.com/dcvmail/dcvmail/internal/admin"
	"github.com/dcvmail/dcvmail/internal/clock"
	"github.com/dcvmail/dcvmail/internal/faults"
	"github.com/dcvmail/dcvmail/internal/health"
	"github.com/dcvmail/dcvmail/internal/model"
	"github.com/dcvmail/dcvmail/internal/web"
)

// controls are the test controls of --test-controls (implied by --demo):
// the clock's offset and the fault rules, both kept in the database so
// that every node sees them (docs/control.md).
type controls struct {
	s      *Server
	offset *clock.Offset
	faults *faults.Set // nil when off
}

// openControls turns the test controls on, or, when they are off, removes
// a clock offset a test left in the database: without test controls the
// time is the real time, for serve and admin commands alike.
func (s *Server) openControls(ctx context.Context, offset *clock.Offset) (*controls, error) {
	s.testControls = s.cfg.TestControls || s.cfg.Demo
	c := &controls{s: s, offset: offset}
	st := s.App.Store
	if !s.testControls {
		d, err := st.ClockOffset(ctx)
		if err != nil {
			return nil, err
		}
		if d != 0 {
			s.App.Log.Warn("a test clock offset was left in the database; without --test-controls the clock is the real one, so it is removed", "offset", d.String())
			if err := st.Tx(ctx, func(tx model.Tx) error { return tx.SetClockOffset(ctx, 0) }); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	if err := offset.Attach(ctx, st.ClockOffset); err != nil {
		return nil, err
	}
	var err error
	if c.faults, err = faults.New(ctx, st, faults.DefaultRefresh); err != nil {
		return nil, err
	}
	s.App.Log.Warn("test controls are on: the admin listener can reset the database, move the clock and inject faults; never run them in production",
		"clock_offset", offset.Current().String())
	return c, nil
}

// faultSet is the fault rules, nil when the test controls are off.
func (c *controls) faultSet() *faults.Set { return c.faults }

// page applies the fault rules to the confirmation page.
func (c *controls) page(h http.Handler) http.Handler {
	return faults.Page(c.faults, pageEndpoint, h)
}

// admin is what the admin listener's test controls act on; nil when off.
// It also makes /readyz say that they are on.
func (c *controls) admin(endpoints []string, wake func()) *admin.Controls {
	if !c.s.testControls {
		return nil
	}
	c.s.ops.ready.Add("testControls", func(context.Context) health.Check {
		return health.Check{OK: true, Detail: "on (--test-controls): reset, clock (offset " + c.offset.Current().String() + "), fault rules and validate are served; never in production"}
	})
	ac := &admin.Controls{Clock: c.offset, Faults: c.faults, Endpoints: append(endpoints, pageEndpoint), Wake: wake}
	if c.s.cfg.Demo {
		ac.Reseed = func(ctx context.Context) error { return SeedDemo(ctx, c.s.App) }
	}
	return ac
}

// pageEndpoint is the confirmation page's name in fault rules.
var pageEndpoint = web.Path[len("/products/"):]
