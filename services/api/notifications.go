package api

import (
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/httpx"
)

type markReadRequest struct {
	UpTo *uint64 `json:"upTo"`
}

// markNotificationsRead answers POST /users/me/notifications/read
// {"upTo"}: every record at or before that position is read. A mark at or
// below the current one changes nothing; one past the log's head is a 400.
func (a *API) markNotificationsRead(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req markReadRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if req.UpTo == nil || *req.UpTo == 0 {
		httpx.WriteError(w, r, badRequest("upTo: required, the seq of the newest record read"))
		return
	}
	upTo := *req.UpTo
	head, err := a.Head(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if upTo > head {
		httpx.WriteError(w, r, badRequest("upTo %d is past the log's last position %d", upTo, head))
		return
	}
	mark := upTo
	out, err := a.Room.MarkRead(r.Context(), caller.App.Name, caller.User(), func(current uint64) (*events.Envelope, error) {
		mark = max(upTo, current)
		if upTo <= current {
			return nil, nil
		}
		return a.event(caller, events.NewEventID(), &events.NotificationsRead{UserID: caller.User(), UpTo: upTo})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if a.projected(w, r, out) {
		httpx.WriteJSON(w, http.StatusOK, map[string]uint64{"upTo": mark})
	}
}
