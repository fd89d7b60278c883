package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dcvmail/dcvmail/internal/dcv"
)

func (h *handler) orderRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/orders", h.createOrder)
	mux.HandleFunc("GET /admin/v1/orders/{n}", h.showOrder)
}

// createOrder is `dcvmail order add`: with dcvEmail the first DCV email is
// sent.
func (h *handler) createOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account   string   `json:"account"`
		Domains   []string `json:"domains"`
		DCVEmail  string   `json:"dcvEmail"`
		BaseOrder int64    `json:"baseOrder"`
	}
	if !decode(w, r, &in, false) {
		return
	}
	if in.Account == "" || len(in.Domains) == 0 {
		writeError(w, http.StatusBadRequest, `"account" and at least one of "domains" are required`)
		return
	}
	if len(in.Domains) > 100 {
		writeError(w, http.StatusBadRequest, "an order has at most 100 domains")
		return
	}
	if in.BaseOrder < 0 {
		writeError(w, http.StatusBadRequest, `"baseOrder" must be an order number`)
		return
	}
	n, err := h.DCV.CreateOrder(r.Context(), dcv.NewOrder{Login: in.Account, Domains: in.Domains, BaseOrder: in.BaseOrder, DCVEmail: in.DCVEmail})
	var ie *dcv.OrderInputError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Msg)
		return
	case err != nil:
		h.internal(w, "create order", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"orderNumber": n})
}

// showOrder is what `dcvmail order show --json` prints.
func (h *handler) showOrder(w http.ResponseWriter, r *http.Request) {
	n, ok := orderNumber(w, r)
	if !ok {
		return
	}
	v, found, err := h.DCV.Show(r.Context(), n)
	switch {
	case err != nil:
		h.internal(w, "show order", err)
	case !found:
		writeError(w, http.StatusNotFound, "no order "+strconv.FormatInt(n, 10))
	default:
		writeJSON(w, http.StatusOK, v)
	}
}
