package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/moderation"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
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

// moderationQueue lists the application's messages held for review, oldest
// first, paged with limit and after (the seq of the last one seen).
func (a *API) moderationQueue(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := requireAdmin(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	page, err := queries.PageAfter(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := a.Store.Q.ModerationQueue(r.Context(), db.ModerationQueueParams{
		App: caller.App.Name, After: page.After, MaxRows: int32(page.Limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("moderation queue: %w", err))
		return
	}
	more := int64(len(rows)) > page.Limit
	if more {
		rows = rows[:page.Limit]
	}
	out := make([]wire.Message, len(rows))
	for i, m := range rows {
		out[i] = queries.MessageOf(m)
	}
	resp := map[string]any{"messages": out, "hasMore": more}
	if more {
		resp["next"] = out[len(out)-1].Seq
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// reviewMessage approves or rejects a held message: a MessageModerated
// decided at its conversation's position, once per message. The sender gets
// moderation.result; an approved message then reaches the members.
func (a *API) reviewMessage(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller := httpx.CallerOf(r)
		if err := requireAdmin(caller); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		out, err := a.Messages.Review(r.Context(), decide.MessageCommand{App: caller.App.Name, Actor: actorOf(caller),
			MessageID: r.PathValue("messageId"), At: a.Now()}, approve)
		if err != nil {
			httpx.WriteError(w, r, refusal(err))
			return
		}
		if len(out.Events) == 0 {
			// Reviewed already by this very command's twin: the log has it.
			httpx.WriteError(w, r, httpx.Errorf(http.StatusConflict, "conflict", "the message was reviewed already"))
			return
		}
		if !a.projected(w, r, out) {
			return
		}
		p, err := out.Events[0].Payload()
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		d := p.(*events.MessageModerated)
		httpx.WriteJSON(w, http.StatusOK, wire.ModerationResult{ClientMsgID: d.ClientMsgID, MessageID: d.MessageID,
			ConversationID: d.ConversationID, Status: string(d.Status), Reason: d.Reason})
	}
}
