package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
)

// createOneToOne creates the one_to_one conversation cc (its id derived
// from the pair), deciding at the conversation's position: if the log
// holds it already, whoever created it, the answer is 200 with it and
// nothing is appended. Both users creating it at the same moment race on
// the conditional append; the loser decides again, finds it, and answers
// 200 too.
func (a *API) createOneToOne(w http.ResponseWriter, r *http.Request, caller *httpx.Caller, cc *events.ConversationCreated) {
	e, err := a.event(caller, "conv-"+cc.ConversationID, cc)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, cc.ConversationID, func(s *decide.State) ([]*events.Envelope, error) {
		if decide.Existing(s) {
			return nil, nil
		}
		return []*events.Envelope{e}, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	status := http.StatusCreated
	if len(out.Appended) == 0 || out.Appended[0].Duplicate {
		status = http.StatusOK
	}
	a.answerConversation(w, r, caller, cc.ConversationID, out, status)
}

// answerConversation answers a command on a conversation with the
// caller's view of it, once the read model includes the command's events
// (or, when it appended none, the position it was decided at).
func (a *API) answerConversation(w http.ResponseWriter, r *http.Request, caller *httpx.Caller, conv string, out decide.Outcome, status int) {
	if !a.seen(w, r, out, conv) {
		return
	}
	c, p, err := a.Store.Member(r.Context(), caller.App.Name, conv, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, status, queries.Summary(c, p, 0, nil))
}

// seen waits for the read model to include a decided command's events, or
// the position it was decided at when it appended nothing (a repeat is
// answered with what the log holds). It reports false when it answered
// already: 202 with that position.
func (a *API) seen(w http.ResponseWriter, r *http.Request, out decide.Outcome, id string) bool {
	seq := out.Pos
	if n := len(out.Appended); n > 0 {
		seq = out.Appended[n-1].Seq
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.WriteWait)
	defer cancel()
	if !a.Projected(ctx, seq) {
		accepted(w, seq, id)
		return false
	}
	return true
}

type updateConversationRequest struct {
	Title    *string          `json:"title"`
	Settings *events.Settings `json:"settings"`
}

// updateConversation answers PUT /conversations/{id}: admins change the
// title or replace the settings document (each optional, one required).
func (a *API) updateConversation(w http.ResponseWriter, r *http.Request) {
	var req updateConversationRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if req.Title == nil && req.Settings == nil {
		httpx.WriteError(w, r, badRequest("title or settings: at least one is required"))
		return
	}
	if req.Title != nil && len(*req.Title) > events.MaxTitleBytes {
		httpx.WriteError(w, r, badRequest("title: at most %d bytes", events.MaxTitleBytes))
		return
	}
	if req.Settings != nil {
		if err := req.Settings.Validate(); err != nil {
			httpx.WriteError(w, r, badRequest("%v", err))
			return
		}
	}
	a.changeConversation(w, r, func(u *events.ConversationUpdated) {
		if req.Title != nil {
			u.Title = *req.Title
		}
		if req.Settings != nil {
			u.Settings = *req.Settings
			if len(u.Settings) == 0 {
				u.Settings = nil // {} clears the document
			}
		}
	})
}

type pinRequest struct {
	Pinned *bool `json:"pinned"`
}

// pinConversation answers PUT /conversations/{id}/pin: admins pin or unpin
// the conversation for every member (the seed's Conversation.is_pinned).
func (a *API) pinConversation(w http.ResponseWriter, r *http.Request) {
	var req pinRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if req.Pinned == nil {
		httpx.WriteError(w, r, badRequest("pinned: required, true or false"))
		return
	}
	a.changeConversation(w, r, func(u *events.ConversationUpdated) { u.Pinned = *req.Pinned })
}

type replyPermissionRequest struct {
	ReplyPermission string `json:"replyPermission"`
}

// setReplyPermission answers PUT /conversations/{id}/reply-permission.
func (a *API) setReplyPermission(w http.ResponseWriter, r *http.Request) {
	var req replyPermissionRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	perm := events.ReplyPermission(req.ReplyPermission)
	if !perm.Valid() {
		httpx.WriteError(w, r, badRequest("replyPermission: one of all, admins_only, sender_only, none"))
		return
	}
	a.changeConversation(w, r, func(u *events.ConversationUpdated) { u.ReplyPermission = perm })
}

// changeConversation decides an admin's change at the conversation's
// position and answers with the conversation after it. A change that
// changes nothing appends nothing and answers the same.
func (a *API) changeConversation(w http.ResponseWriter, r *http.Request, change decide.ConversationChange) {
	caller := httpx.CallerOf(r)
	conv := r.PathValue("id")
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		u, err := decide.UpdateConversation(s, caller.User(), change)
		return one(a, caller, u, err)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	a.answerConversation(w, r, caller, conv, out, http.StatusOK)
}

// closeConversation answers DELETE /conversations/{id}: admins close it.
// History stays readable to its members; sends, edits, deletions and admin
// actions are refused with code closed. Closing it again answers the same.
func (a *API) closeConversation(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	conv := r.PathValue("id")
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		u, err := decide.CloseConversation(s, caller.User())
		return one(a, caller, u, err)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.seen(w, r, out, conv) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type updateParticipantRequest struct {
	Role *string `json:"role"`
	// CanReply is kept raw: absent leaves the override, null removes it.
	CanReply json.RawMessage `json:"canReply"`
}

// updateParticipant answers PUT /conversations/{id}/participants/{userId}:
// admins change a participant's role or reply override.
func (a *API) updateParticipant(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req updateParticipantRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var ch decide.ParticipantChange
	if req.Role != nil {
		role := events.Role(*req.Role)
		if !role.Valid() {
			httpx.WriteError(w, r, badRequest("role: one of admin, member, read_only"))
			return
		}
		ch.Role = &role
	}
	if req.CanReply != nil {
		ch.SetCanReply = true
		if !bytes.Equal(req.CanReply, []byte("null")) {
			var v bool
			if err := json.Unmarshal(req.CanReply, &v); err != nil {
				httpx.WriteError(w, r, badRequest("canReply: true, false, or null to remove the override"))
				return
			}
			ch.CanReply = &v
		}
	}
	if ch.Role == nil && !ch.SetCanReply {
		httpx.WriteError(w, r, badRequest("role or canReply: at least one is required"))
		return
	}
	conv, target := r.PathValue("id"), r.PathValue("userId")
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		u, err := decide.UpdateParticipant(s, caller.User(), target, ch)
		return one(a, caller, u, err)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.seen(w, r, out, conv) {
		return
	}
	c, _, err := a.Store.Member(r.Context(), caller.App.Name, conv, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ps, err := a.Store.Participants(r.Context(), c)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	for _, p := range ps {
		if p.UserID == target {
			httpx.WriteJSON(w, http.StatusOK, p)
			return
		}
	}
	httpx.WriteError(w, r, httpx.Errorf(http.StatusNotFound, "not_found", "%s is not a participant", target))
}

// one wraps a decision of at most one event as the caller's command: none
// when it changes nothing (p nil).
func one[P interface {
	*T
	events.Payload
}, T any](a *API, caller *httpx.Caller, p P, err error) ([]*events.Envelope, error) {
	if err != nil || p == nil {
		return nil, err
	}
	e, err := a.event(caller, events.NewEventID(), p)
	if err != nil {
		return nil, err
	}
	return []*events.Envelope{e}, nil
}
