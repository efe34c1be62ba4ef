package queries

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/sql/db"
)

// Group is a group (team) as a member sees it.
type Group struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
	Role        string    `json:"role"`
	MemberCount int64     `json:"memberCount"`
}

// GroupMember is one member of a group.
type GroupMember struct {
	UserID   string    `json:"userId"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

// GroupConversation is a conversation of a group, and whether the viewer
// has joined it (members of the group may: POST …/join).
type GroupConversation struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Title     string    `json:"title"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	Joined    bool      `json:"joined"`
}

// GroupDetails answers GET /groups/{id}.
type GroupDetails struct {
	Group
	Members       []GroupMember       `json:"members"`
	Conversations []GroupConversation `json:"conversations"`
}

// JoinRequest is a pending request to join a group.
type JoinRequest struct {
	UserID      string    `json:"userId"`
	RequestedAt time.Time `json:"requestedAt"`
}

// Errors of the group reads.
var (
	ErrNoGroup        = httpx.Errorf(http.StatusNotFound, "not_found", "no such group")
	ErrNotGroupMember = httpx.Errorf(http.StatusForbidden, "not_member", "you are not a member of this group")
	ErrNotGroupAdmin  = httpx.Errorf(http.StatusForbidden, "forbidden", "only group admins see join requests")
)

// maxGroupConversations bounds the conversations GET /groups/{id} lists.
const maxGroupConversations = 200

// GroupMember returns the group as user sees it: ErrNoGroup when it does
// not exist, ErrNotGroupMember when user is not in it.
func (s Store) GroupMember(ctx context.Context, app, id, user string) (Group, error) {
	g, err := s.Q.GetGroup(ctx, db.GetGroupParams{App: app, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Group{}, ErrNoGroup
	}
	if err != nil {
		return Group{}, fmt.Errorf("read group: %w", err)
	}
	role, err := s.Q.GroupMemberRole(ctx, db.GroupMemberRoleParams{App: app, GroupID: id, UserID: user})
	if errors.Is(err, pgx.ErrNoRows) {
		return Group{}, ErrNotGroupMember
	}
	if err != nil {
		return Group{}, fmt.Errorf("read group member: %w", err)
	}
	return Group{ID: g.ID, Name: g.Name, CreatedBy: g.CreatedBy, CreatedAt: g.CreatedAt, Role: role}, nil
}

// Groups answers GET /groups?limit=&after=: the caller's groups by id.
func (h Handlers) Groups(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	after, err := afterID(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := h.Store.Q.ListGroupsForUser(r.Context(), db.ListGroupsForUserParams{App: caller.App.Name,
		UserID: caller.User(), After: after, MaxRows: int32(limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list groups: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]Group, len(rows))
	for i, g := range rows {
		out[i] = Group{ID: g.ID, Name: g.Name, CreatedBy: g.CreatedBy, CreatedAt: g.CreatedAt, Role: g.Role, MemberCount: g.MemberCount}
	}
	resp := map[string]any{"groups": out, "hasMore": more}
	if more {
		resp["next"] = out[len(out)-1].ID
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// Group answers GET /groups/{id} (members only): the group, its members
// and its conversations.
func (h Handlers) Group(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	d, err := h.Store.GroupDetails(r.Context(), caller.App.Name, r.PathValue("id"), caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// GroupDetails reads a group with its members and conversations, as user
// (a member) sees it.
func (s Store) GroupDetails(ctx context.Context, app, id, user string) (GroupDetails, error) {
	g, err := s.GroupMember(ctx, app, id, user)
	if err != nil {
		return GroupDetails{}, err
	}
	ms, err := s.Q.ListGroupMembers(ctx, db.ListGroupMembersParams{App: app, GroupID: id})
	if err != nil {
		return GroupDetails{}, fmt.Errorf("list group members: %w", err)
	}
	d := GroupDetails{Group: g, Members: make([]GroupMember, len(ms))}
	for i, m := range ms {
		d.Members[i] = GroupMember{UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt}
	}
	d.MemberCount = int64(len(ms))
	cs, err := s.Q.ListGroupConversations(ctx, db.ListGroupConversationsParams{Viewer: user, App: app, GroupID: id,
		MaxRows: maxGroupConversations})
	if err != nil {
		return GroupDetails{}, fmt.Errorf("list group conversations: %w", err)
	}
	d.Conversations = make([]GroupConversation, len(cs))
	for i, c := range cs {
		d.Conversations[i] = GroupConversation{ID: c.ID, Type: c.Kind, Title: c.Title, CreatedBy: c.CreatedBy,
			CreatedAt: c.CreatedAt, Joined: c.Joined}
	}
	return d, nil
}

// JoinRequests answers GET /groups/{id}/join-requests?limit=&after=
// (admins): the pending requests by user id.
func (h Handlers) JoinRequests(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	g, err := h.Store.GroupMember(r.Context(), caller.App.Name, r.PathValue("id"), caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if g.Role != string(events.RoleAdmin) {
		httpx.WriteError(w, r, ErrNotGroupAdmin)
		return
	}
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	after, err := afterID(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := h.Store.Q.ListJoinRequests(r.Context(), db.ListJoinRequestsParams{App: caller.App.Name, GroupID: g.ID,
		After: after, MaxRows: int32(limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list join requests: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]JoinRequest, len(rows))
	for i, q := range rows {
		out[i] = JoinRequest{UserID: q.UserID, RequestedAt: q.RequestedAt}
	}
	resp := map[string]any{"requests": out, "hasMore": more}
	if more {
		resp["next"] = out[len(out)-1].UserID
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// cursor is the request's after: the last id of the previous page.
func afterID(r *http.Request) (string, error) {
	after := r.URL.Query().Get("after")
	if after != "" && !events.ValidID(after) {
		return "", httpx.Errorf(http.StatusBadRequest, "invalid_payload", "after: the next of the previous page")
	}
	return after, nil
}
