package api

import (
	"errors"
	"net/http"

	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/webhooks"
)

// requireAdmin refuses callers who do not administer their application
// (its admin roles, or a service of it): webhooks, moderation rules.
func requireAdmin(c *httpx.Caller) error {
	if c.IsService() || c.App.IsAdminRole(c.Role) {
		return nil
	}
	return httpx.Errorf(http.StatusForbidden, "forbidden", "only the application's admins and services may do this")
}

func (a *API) getWebhooks(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := requireAdmin(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views, err := a.Webhooks.Get(r.Context(), caller.App.Name)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, views)
}

// putWebhooks replaces the application's webhooks. The document is read
// from the log, so the answer and the next GET show it at once.
func (a *API) putWebhooks(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := requireAdmin(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var want []webhooks.View
	if err := httpx.ReadJSON(w, r, &want); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if want == nil {
		httpx.WriteError(w, r, badRequest("body: a JSON array of webhooks ([] removes them all)"))
		return
	}
	views, _, err := a.Webhooks.Put(r.Context(), caller.App.Name, actorOf(caller), want)
	var invalid *webhooks.InvalidError
	switch {
	case errors.As(err, &invalid):
		httpx.WriteError(w, r, badRequest("%v", invalid.Err))
	case errors.Is(err, webhooks.ErrBusy):
		httpx.WriteError(w, r, httpx.Errorf(http.StatusConflict, "conflict", "%v", err))
	case err != nil:
		httpx.WriteError(w, r, err)
	default:
		httpx.WriteJSON(w, http.StatusOK, views)
	}
}
