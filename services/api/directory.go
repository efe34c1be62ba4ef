package api

import (
	"fmt"
	"net/http"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
)

// Bounds of a directory batch: 10,000 users of the longest ids and names fit
// in maxBatchBody.
const (
	maxBatchUsers = 10000
	maxBatchBody  = 8 << 20
)

type directoryUserRequest struct {
	Entity string `json:"entity"`
	Role   string `json:"role"`
	Name   string `json:"name"`
	Active *bool  `json:"active"`
}

type directoryBatchUser struct {
	ID     string `json:"id"`
	Entity string `json:"entity"`
	Role   string `json:"role"`
	Name   string `json:"name"`
	Active *bool  `json:"active"`
}

type directoryBatchRequest struct {
	Users []directoryBatchUser `json:"users"`
}

// user is the directory entry a request sets: active unless it says not.
func (u directoryUserRequest) user(id string) events.DirectoryUser {
	return events.DirectoryUser{ID: id, Entity: u.Entity, Role: u.Role, Name: u.Name, Active: u.Active == nil || *u.Active}
}

// directoryWriter refuses directory writes of anyone but a service of an
// application with announcements on.
func directoryWriter(caller *httpx.Caller) error {
	if err := announcementsOn(caller); err != nil {
		return err
	}
	if !caller.IsService() {
		return httpx.Errorf(http.StatusForbidden, "forbidden", "the directory is written with a service token (role service)")
	}
	return nil
}

// putDirectoryUser answers PUT /directory/users/{id}: the host application's
// service sets one user.
func (a *API) putDirectoryUser(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := directoryWriter(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var req directoryUserRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u := req.user(r.PathValue("id")) // checked by pathIDs
	if err := u.Validate(); err != nil {
		httpx.WriteError(w, r, badRequest("%v", err))
		return
	}
	if !a.writeDirectory(w, r, caller, []events.DirectoryUser{u}) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, u)
}

// putDirectoryUsers answers POST /directory/users:batch: all the users or,
// when one is invalid, none, the error naming its index.
func (a *API) putDirectoryUsers(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	if err := directoryWriter(caller); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var req directoryBatchRequest
	if err := httpx.ReadJSONUpTo(w, r, &req, maxBatchBody); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	switch {
	case len(req.Users) == 0:
		httpx.WriteError(w, r, badRequest("users: at least one"))
		return
	case len(req.Users) > maxBatchUsers:
		httpx.WriteError(w, r, httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", "users: at most %d per batch", maxBatchUsers))
		return
	}
	users := make([]events.DirectoryUser, len(req.Users))
	index := make(map[string]int, len(req.Users))
	for i, b := range req.Users {
		users[i] = directoryUserRequest{Entity: b.Entity, Role: b.Role, Name: b.Name, Active: b.Active}.user(b.ID)
		if err := users[i].Validate(); err != nil {
			httpx.WriteError(w, r, badRequest("users[%d].%v", i, err))
			return
		}
		if j, dup := index[b.ID]; dup {
			httpx.WriteError(w, r, badRequest("users[%d].id: %q is users[%d] too", i, b.ID, j))
			return
		}
		index[b.ID] = i
	}
	if !a.writeDirectory(w, r, caller, users) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"users": len(users)})
}

// writeDirectory appends the users that change the directory at its
// position, in events of at most events.MaxDirectoryUsersPerEvent users, and
// waits for the read model. A repeat of a write changes nothing and appends
// nothing. It reports false when it answered already.
func (a *API) writeDirectory(w http.ResponseWriter, r *http.Request, caller *httpx.Caller, users []events.DirectoryUser) bool {
	out, err := a.Directories.Decide(r.Context(), caller.App.Name, func(dir *decide.Directory, _ uint64) ([]*events.Envelope, error) {
		changed := decide.ChangedUsers(dir, users)
		var ps []events.Payload
		for i := 0; i < len(changed); i += events.MaxDirectoryUsersPerEvent {
			ps = append(ps, &events.DirectoryUsersUpdated{Users: changed[i:min(i+events.MaxDirectoryUsersPerEvent, len(changed))]})
		}
		evs, err := a.newEvents(caller, ps)
		if err != nil {
			return nil, fmt.Errorf("directory event: %w", err)
		}
		return evs, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return false
	}
	return a.projected(w, r, out)
}
