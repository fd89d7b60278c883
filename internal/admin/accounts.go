package admin

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/dcvmail/dcvmail/internal/accounts"
)

func (h *handler) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/accounts", h.createAccount)
	mux.HandleFunc("GET /admin/v1/accounts", h.listAccounts)
	mux.HandleFunc("GET /admin/v1/accounts/{login}", h.showAccount)
	mux.HandleFunc("PATCH /admin/v1/accounts/{login}", h.updateAccount)
	mux.HandleFunc("POST /admin/v1/accounts/{login}/unlock", h.unlock)
}

func (h *handler) createAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Login        string `json:"login"`
		Password     string `json:"password"`
		ReadOnly     bool   `json:"readOnly"`
		Disabled     bool   `json:"disabled"`
		Credit       string `json:"credit"`
		CustomerPays bool   `json:"customerPays"`
	}
	if !decode(w, r, &in, false) {
		return
	}
	err := accounts.Create(r.Context(), h.App.Store, accounts.NewAccount{Login: in.Login, Password: in.Password,
		ReadOnly: in.ReadOnly, Disabled: in.Disabled, Credit: in.Credit, CustomerPays: in.CustomerPays}, h.DCV.Now())
	if h.accountError(w, in.Login, err) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"login": in.Login})
}

func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := accounts.List(r.Context(), h.App.Store, h.DCV.Now())
	if err != nil {
		h.internal(w, "list accounts", err)
		return
	}
	if list == nil {
		list = []accounts.View{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) showAccount(w http.ResponseWriter, r *http.Request) {
	login := r.PathValue("login")
	v, err := accounts.Show(r.Context(), h.App.Store, login, h.DCV.Now())
	if h.accountError(w, login, err) {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) updateAccount(w http.ResponseWriter, r *http.Request) {
	login := r.PathValue("login")
	var ch accounts.Change
	if !decode(w, r, &struct {
		Password     **string `json:"password"`
		ReadOnly     **bool   `json:"readOnly"`
		Disabled     **bool   `json:"disabled"`
		Credit       **string `json:"credit"`
		CustomerPays **bool   `json:"customerPays"`
	}{&ch.Password, &ch.ReadOnly, &ch.Disabled, &ch.Credit, &ch.CustomerPays}, false) {
		return
	}
	if ch.Empty() {
		writeError(w, http.StatusBadRequest, "nothing to change: give any of password, readOnly, disabled, credit, customerPays")
		return
	}
	if h.accountError(w, login, accounts.Update(r.Context(), h.App.Store, login, ch, h.DCV.Now())) {
		return
	}
	v, err := accounts.Show(r.Context(), h.App.Store, login, h.DCV.Now())
	if h.accountError(w, login, err) {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// unlock forgets the failed logins of a login name (and, with a body
// {"source": ADDR}, of that source) on every node.
func (h *handler) unlock(w http.ResponseWriter, r *http.Request) {
	login := r.PathValue("login")
	var in struct {
		Source string `json:"source"`
	}
	if !decode(w, r, &in, true) {
		return
	}
	if h.accountError(w, login, accounts.CheckLogin(login)) {
		return
	}
	var src netip.Addr
	if in.Source != "" {
		var err error
		if src, err = netip.ParseAddr(in.Source); err != nil {
			writeError(w, http.StatusBadRequest, "source "+strconv.Quote(in.Source)+": not an IP address")
			return
		}
	}
	if _, err := accounts.Unlock(r.Context(), h.App.Store, login, src); err != nil {
		h.internal(w, "unlock", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accountError answers an error of package accounts; false when err is nil.
func (h *handler) accountError(w http.ResponseWriter, login string, err error) bool {
	var ie *accounts.InputError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Msg)
	case errors.Is(err, accounts.ErrExists):
		writeError(w, http.StatusConflict, "account "+strconv.Quote(login)+" exists already (change it with PATCH /admin/v1/accounts/"+login+")")
	case errors.Is(err, accounts.ErrNoAccount):
		writeError(w, http.StatusNotFound, "no account "+strconv.Quote(login))
	default:
		h.internal(w, "account", err)
	}
	return true
}
