package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/sql/db"
)

// The user room's settings (PROTOCOL §3 GET|PUT /users/me/settings): a
// document replaced as a whole, each change an event the user's other
// devices receive as settings.changed.

type settingsRequest struct {
	MutedConversations *[]string              `json:"mutedConversations"`
	Notifications      *notificationsSettings `json:"notifications"`
}

type notificationsSettings struct {
	Enabled *bool `json:"enabled"`
}

// settings answers GET /users/me/settings: the document in force, the
// defaults before the first change.
func (a *API) settings(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	row, err := a.Store.Q.GetUserSettings(r.Context(), db.GetUserSettingsParams{App: caller.App.Name, UserID: caller.User()})
	if errors.Is(err, pgx.ErrNoRows) {
		httpx.WriteJSON(w, http.StatusOK, events.DefaultSettings())
		return
	}
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("read settings: %w", err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, json.RawMessage(row.Settings))
}

// putSettings answers PUT /users/me/settings with the whole document.
// Muting a conversation needs membership of it (checked on its log); one
// muted before may stay muted after leaving. The same document again
// appends nothing.
func (a *API) putSettings(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req settingsRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if req.MutedConversations == nil || req.Notifications == nil || req.Notifications.Enabled == nil {
		httpx.WriteError(w, r, badRequest("mutedConversations, notifications and notifications.enabled are required: a PUT replaces the document"))
		return
	}
	muted := slices.Clone(*req.MutedConversations)
	if len(muted) > events.MaxMutedConversations {
		httpx.WriteError(w, r, httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large",
			"mutedConversations: at most %d", events.MaxMutedConversations))
		return
	}
	for i, id := range muted {
		if !events.ValidID(id) {
			httpx.WriteError(w, r, badRequest("mutedConversations[%d]: %q must match ^[A-Za-z0-9_-]{1,64}$", i, id))
			return
		}
	}
	slices.Sort(muted)
	muted = slices.Compact(muted)
	doc := events.UserSettings{MutedConversations: muted, Notifications: events.Notifications{Enabled: *req.Notifications.Enabled}}
	member := make(map[string]bool, len(muted))
	for _, id := range muted {
		err := a.Decide.State(r.Context(), caller.App.Name, id, func(s *decide.State) error {
			c := s.Conversation()
			member[id] = c != nil && c.IsMember(caller.User())
			return nil
		})
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
	}
	out, err := a.Room.ChangeSettings(r.Context(), caller.App.Name, caller.User(), func(current events.UserSettings) (*events.Envelope, error) {
		for _, id := range muted {
			if !member[id] && !current.Muted(id) {
				return nil, &decide.Refusal{Code: decide.CodeNotFound, Message: "mutedConversations: no conversation " + id + " of yours"}
			}
		}
		if slices.Equal(current.MutedConversations, doc.MutedConversations) && current.Notifications == doc.Notifications {
			return nil, nil
		}
		return a.event(caller, events.NewEventID(), &events.SettingsChanged{UserID: caller.User(), Settings: doc})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if a.projected(w, r, out) {
		httpx.WriteJSON(w, http.StatusOK, doc)
	}
}
