package api

import (
	"net/http"
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
)

// Groups (teams), PROTOCOL §3: every write is decided at the group's
// position in the log (decide.Groups) and answered once the read model
// has it.

// IdempotencyKeyHeader names a group creation: the same key from the same
// user, however late, is the same group.
const IdempotencyKeyHeader = "Idempotency-Key"

type groupRequest struct {
	Name string `json:"name"`
}

// checkName refuses a group name before anything is decided.
func checkName(name string) error {
	if err := events.CheckGroupName(name); err != nil {
		return badRequest("%v", err)
	}
	return nil
}

// createGroup answers POST /groups: the caller creates a group and is its
// admin. With an Idempotency-Key a retry answers the same group (200).
func (a *API) createGroup(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req groupRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := checkName(req.Name); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	id := events.NewGroupID()
	if key := r.Header.Get(IdempotencyKeyHeader); key != "" {
		if len(key) > 200 {
			httpx.WriteError(w, r, badRequest("%s: at most 200 bytes", IdempotencyKeyHeader))
			return
		}
		id = events.GroupID(caller.App.Name, caller.User(), key)
	}
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		created, err := decide.CreateGroup(g, caller.User())
		if err != nil || !created {
			return nil, err
		}
		return a.events(caller, &events.GroupCreated{GroupID: id, Name: req.Name, CreatedBy: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	a.answerGroup(w, r, out, id, http.StatusCreated)
}

// answerGroup answers a group write with the group as the caller sees it
// once the read model has the write: status when something was appended,
// 200 for a repeat.
func (a *API) answerGroup(w http.ResponseWriter, r *http.Request, out decide.Outcome, id string, status int) {
	if len(out.Appended) == 0 {
		status = http.StatusOK
	}
	if !a.projected(w, r, out) {
		return
	}
	caller := httpx.CallerOf(r)
	d, err := a.Store.GroupDetails(r.Context(), caller.App.Name, id, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, status, d)
}

// updateGroup answers PUT /groups/{id} {"name"} (admins): group.updated.
func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req groupRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := checkName(req.Name); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	id := r.PathValue("id")
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		changed, err := decide.RenameGroup(g, caller.User(), req.Name)
		if err != nil || !changed {
			return nil, err
		}
		return a.events(caller, &events.GroupUpdated{GroupID: id, Name: req.Name, By: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	a.answerGroup(w, r, out, id, http.StatusOK)
}

// requestToJoin answers POST /groups/{id}/join-requests: the caller, not a
// member, asks to join. Asking again while pending changes nothing.
func (a *API) requestToJoin(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	id := r.PathValue("id")
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		ask, err := decide.RequestToJoin(g, caller.User())
		if err != nil || !ask {
			return nil, err
		}
		return a.events(caller, &events.GroupJoinRequested{GroupID: id, UserID: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	status := http.StatusCreated
	if len(out.Appended) == 0 {
		status = http.StatusOK
	}
	if !a.projected(w, r, out) {
		return
	}
	httpx.WriteJSON(w, status, map[string]string{"groupId": id, "userId": caller.User(), "status": "pending"})
}

type addGroupMemberRequest struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

// addGroupMember answers POST /groups/{id}/members {"userId","role"?}
// (admins): adds a member, accepting their request if they made one, or
// changes a member's role.
func (a *API) addGroupMember(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req addGroupMemberRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if !events.ValidID(req.UserID) {
		httpx.WriteError(w, r, badRequest("userId: required, must match ^[A-Za-z0-9_-]{1,64}$"))
		return
	}
	role := events.Role(req.Role)
	if role == "" {
		role = events.RoleMember
	}
	if !events.ValidGroupRole(role) {
		httpx.WriteError(w, r, badRequest("role: one of admin, member"))
		return
	}
	id := r.PathValue("id")
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		add, err := decide.AddGroupMember(g, caller.User(), req.UserID, role, caller.App.Limits.MaxGroupMembers)
		if err != nil || !add {
			return nil, err
		}
		return a.events(caller, &events.GroupMemberJoined{GroupID: id, UserID: req.UserID, Role: role, By: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	a.answerGroup(w, r, out, id, http.StatusOK)
}

// refuseJoin answers DELETE /groups/{id}/join-requests/{userId} (admins).
func (a *API) refuseJoin(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	id, user := r.PathValue("id"), r.PathValue("userId")
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		if err := decide.RefuseJoin(g, caller.User(), user); err != nil {
			return nil, err
		}
		return a.events(caller, &events.GroupJoinRefused{GroupID: id, UserID: user, By: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if a.projected(w, r, out) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// removeGroupMember answers DELETE /groups/{id}/members/{userId}: an admin
// removes a member, or a member leaves.
func (a *API) removeGroupMember(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	id, user := r.PathValue("id"), r.PathValue("userId")
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		if err := decide.RemoveGroupMember(g, caller.User(), user); err != nil {
			return nil, err
		}
		return a.events(caller, &events.GroupMemberLeft{GroupID: id, UserID: user, By: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if a.projected(w, r, out) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// joinGroupConversation answers POST
// /groups/{id}/conversations/{conversationId}/join: a member of the group
// joins one of its conversations. Decided at the group's position, so a
// member removed from the group meanwhile cannot; the conversation's facts
// (its group, who is in it) are read from its own log just before.
func (a *API) joinGroupConversation(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	id, conv := r.PathValue("id"), r.PathValue("conversationId")
	if !events.ValidID(conv) {
		httpx.WriteError(w, r, badRequest("conversationId in the path: must match ^[A-Za-z0-9_-]{1,64}$"))
		return
	}
	var facts decide.GroupConversation
	err := a.Decide.State(r.Context(), caller.App.Name, conv, func(s *decide.State) error {
		facts = decide.ConversationFacts(s, caller.User())
		return nil
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, id, func(g *decide.GroupState) ([]*events.Envelope, error) {
		join, err := decide.JoinGroupConversation(g, facts, caller.User(), caller.App.Limits.MaxGroupMembers)
		if err != nil || !join {
			return nil, err
		}
		return a.events(caller, &events.MemberJoined{ConversationID: conv, UserID: caller.User(), Role: events.RoleMember,
			AddedBy: caller.User()})
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	c, p, err := a.Store.Member(r.Context(), caller.App.Name, conv, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, queries.Summary(c, p, 0, nil))
}

// createGroupConversation creates a group conversation in req's group:
// the creator and every participant must be members of the group, decided
// at the group's position.
func (a *API) createGroupConversation(w http.ResponseWriter, r *http.Request, req createConversationRequest, others []string, perm events.ReplyPermission) {
	caller := httpx.CallerOf(r)
	if !events.ValidID(req.GroupID) {
		httpx.WriteError(w, r, badRequest("groupId: must match ^[A-Za-z0-9_-]{1,64}$"))
		return
	}
	if events.ConversationKind(req.Type) != events.KindGroup {
		httpx.WriteError(w, r, badRequest("groupId: only a conversation of type group belongs to a group"))
		return
	}
	if len(others)+1 > caller.App.Limits.MaxGroupMembers {
		httpx.WriteError(w, r, badRequest("participantIds: at most %d members", caller.App.Limits.MaxGroupMembers))
		return
	}
	cc := &events.ConversationCreated{ConversationID: events.NewConversationID(), Kind: events.KindGroup, Title: req.Title,
		ReplyPermission: perm, CreatedBy: caller.User(), GroupID: req.GroupID,
		Members: []events.Member{{UserID: caller.User(), Role: events.RoleAdmin}}}
	for _, id := range others {
		cc.Members = append(cc.Members, events.Member{UserID: id, Role: events.RoleMember})
	}
	out, err := a.Groups.Decide(r.Context(), caller.App.Name, req.GroupID, func(g *decide.GroupState) ([]*events.Envelope, error) {
		if err := decide.CreateGroupConversation(g, caller.User()); err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(others, func(u string) bool { return !g.IsMember(u) }); i >= 0 {
			return nil, &decide.Refusal{Code: decide.CodeInvalidPayload, Message: others[i] + " is not a member of the group"}
		}
		return a.events(caller, cc)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	c, p, err := a.Store.Member(r.Context(), caller.App.Name, cc.ConversationID, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, queries.Summary(c, p, 0, nil))
}

// events builds one event the caller causes, with a fresh id: each is
// decided once, at a position, so it needs no derived id.
func (a *API) events(caller *httpx.Caller, p events.Payload) ([]*events.Envelope, error) {
	e, err := a.event(caller, events.NewEventID(), p)
	if err != nil {
		return nil, err
	}
	return []*events.Envelope{e}, nil
}
