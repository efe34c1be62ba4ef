package api

import (
	"net/http"
	"strconv"

	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/httpx"
)

// sync answers GET /sync?since={seq}&limit=: every delivery the caller would
// have received over MQTT after since, from the read model (queries.Sync).
// since is required; past the log's last position it is a 400, older than
// the read model's horizon a 410 gone.
func (a *API) sync(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	q := r.URL.Query()
	since, err := strconv.ParseUint(q.Get("since"), 10, 63)
	if err != nil {
		httpx.WriteError(w, r, badRequest("since is required: a non-negative integer, the highest seq received (0 for everything)"))
		return
	}
	limit := queries.DefaultSyncLimit
	if q.Has("limit") {
		limit, err = strconv.Atoi(q.Get("limit"))
		if err != nil || limit < 1 || limit > queries.MaxSyncLimit {
			httpx.WriteError(w, r, badRequest("limit must be an integer between 1 and %d", queries.MaxSyncLimit))
			return
		}
	}
	head, err := a.Head(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if since > head {
		httpx.WriteError(w, r, badRequest("since %d is past the log's last position %d", since, head))
		return
	}
	page, err := a.Store.Sync(r.Context(), caller.App.Name, caller.User(), since, limit)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, page)
}
