package api

import (
	"net/http"

	"github.com/dcvmail/dcvmail/internal/dcv"
	"github.com/dcvmail/dcvmail/internal/wire"
)

// resend serves !ResendDCVEmail (docs/api.md §2).
func (h *Handler) resend(w http.ResponseWriter, r *http.Request, c *call) {
	a, acct, ok := h.begin(w, r, c, &resendEndpoint)
	if !ok {
		return
	}
	err := h.dcv.Resend(r.Context(), dcv.ResendRequest{
		Account:         acct,
		OrderNumber:     a.int("orderNumber"),
		BaseOrderNumber: a.int("baseOrderNumber"),
		Recipient:       a.str("dcvEmailAddress"),
		TemplateID:      a.int("dcvTemplateID"),
	})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.write(w, c, wire.Success)
}
