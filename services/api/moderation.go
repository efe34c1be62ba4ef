package api

import (
	"errors"
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/moderation"
)

// getModerationRules answers the rules in force, read from the log.
func (a *API) getModerationRules(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := requireAdmin(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rules, _, err := moderation.CurrentRules(r.Context(), a.JS, caller.App)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, rules)
}

// putModerationRules replaces the rules: a ModerationRulesChanged event, in
// force for every message posted after it. Fields left out take their
// defaults (off, reject, a 10 s flood window).
func (a *API) putModerationRules(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := requireAdmin(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var doc events.ModerationRules
	if err := httpx.ReadJSON(w, r, &doc); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	doc = config.DefaultRules(doc)
	if err := doc.Validate(); err != nil {
		httpx.WriteError(w, r, badRequest("%v", err))
		return
	}
	if err := config.CheckHoldable(doc); err != nil {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusBadRequest, "unsupported", "%v", err))
		return
	}
	_, err := moderation.PutRules(r.Context(), a.JS, caller.App, actorOf(caller), doc, a.Now())
	switch {
	case errors.Is(err, moderation.ErrBusy):
		httpx.WriteError(w, r, httpx.Errorf(http.StatusConflict, "conflict", "%v", err))
	case err != nil:
		httpx.WriteError(w, r, err)
	default:
		httpx.WriteJSON(w, http.StatusOK, doc)
	}
}
