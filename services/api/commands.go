package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/sql/db"
)

func badRequest(format string, args ...any) error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_payload", format, args...)
}

// append stores events and waits for the read model to include the last one.
// It reports false when the wait timed out (the caller answers 202).
func (a *API) append(ctx context.Context, evs ...*events.Envelope) (uint64, bool, error) {
	res, err := a.Append.AppendAll(ctx, evs)
	if err != nil {
		return 0, false, fmt.Errorf("append: %w", err)
	}
	seq := res[len(res)-1].Seq
	wctx, cancel := context.WithTimeout(ctx, a.WriteWait)
	defer cancel()
	return seq, a.Projected(wctx, seq), nil
}

// accepted answers a write the log holds but the read model does not show
// yet; id names the resource when the write created one.
func accepted(w http.ResponseWriter, seq uint64, id string) {
	body := map[string]any{"seq": seq, "status": "accepted"}
	if id != "" {
		body["id"] = id
	}
	httpx.WriteJSON(w, http.StatusAccepted, body)
}

type createConversationRequest struct {
	Type            string   `json:"type"`
	Title           string   `json:"title"`
	ParticipantIDs  []string `json:"participantIds"`
	GroupID         string   `json:"groupId"`
	ReplyPermission string   `json:"replyPermission"`
}

func (a *API) createConversation(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req createConversationRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	var others []string
	for i, id := range req.ParticipantIDs {
		if !events.ValidID(id) {
			httpx.WriteError(w, r, badRequest("participantIds[%d]: %q must match ^[A-Za-z0-9_-]{1,64}$", i, id))
			return
		}
		if id != caller.User() && !slices.Contains(others, id) {
			others = append(others, id)
		}
	}
	if len(req.Title) > 200 {
		httpx.WriteError(w, r, badRequest("title: at most 200 bytes"))
		return
	}
	perm := events.ReplyPermission(req.ReplyPermission)
	if perm == "" {
		perm = events.ReplyAll
	}
	if !perm.Valid() {
		httpx.WriteError(w, r, badRequest("replyPermission: one of all, admins_only, sender_only, none"))
		return
	}
	if req.GroupID != "" {
		a.createGroupConversation(w, r, req, others, perm)
		return
	}
	cc := &events.ConversationCreated{Kind: events.ConversationKind(req.Type), Title: req.Title,
		ReplyPermission: perm, CreatedBy: caller.User()}
	switch cc.Kind {
	case events.KindOneToOne:
		if len(others) != 1 {
			httpx.WriteError(w, r, badRequest("participantIds: a one_to_one conversation has exactly one other participant"))
			return
		}
		cc.ConversationID = events.OneToOneID(caller.App.Name, caller.User(), others[0])
		cc.ReplyPermission = events.ReplyAll
		cc.Members = []events.Member{{UserID: caller.User(), Role: events.RoleMember}, {UserID: others[0], Role: events.RoleMember}}
		a.createOneToOne(w, r, caller, cc)
		return
	case events.KindGroup:
		if len(others)+1 > caller.App.Limits.MaxGroupMembers {
			httpx.WriteError(w, r, badRequest("participantIds: at most %d members", caller.App.Limits.MaxGroupMembers))
			return
		}
		cc.ConversationID = events.NewConversationID()
		cc.Members = []events.Member{{UserID: caller.User(), Role: events.RoleAdmin}}
		for _, id := range others {
			cc.Members = append(cc.Members, events.Member{UserID: id, Role: events.RoleMember})
		}
	case events.KindBroadcast:
		httpx.WriteError(w, r, httpx.Errorf(http.StatusBadRequest, "unsupported", "broadcast conversations are not available yet"))
		return
	default:
		httpx.WriteError(w, r, badRequest("type: one of one_to_one, group, broadcast"))
		return
	}
	e, err := a.event(caller, "conv-"+cc.ConversationID, cc)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	seq, done, err := a.append(r.Context(), e)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if !done {
		accepted(w, seq, cc.ConversationID)
		return
	}
	c, p, err := a.Store.Member(r.Context(), caller.App.Name, cc.ConversationID, caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, queries.Summary(c, p, 0, nil))
}

type addParticipantsRequest struct {
	UserID  string   `json:"userId"`
	UserIDs []string `json:"userIds"`
	Role    string   `json:"role"`
}

// addParticipants answers POST /conversations/{id}/participants: admins add
// members to a group.
func (a *API) addParticipants(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	var req addParticipantsRequest
	if err := httpx.ReadJSON(w, r, &req); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ids := req.UserIDs
	if req.UserID != "" {
		ids = append(ids, req.UserID)
	}
	if len(ids) == 0 {
		httpx.WriteError(w, r, badRequest("userId or userIds: required"))
		return
	}
	role := events.Role(req.Role)
	if role == "" {
		role = events.RoleMember
	}
	if !role.Valid() {
		httpx.WriteError(w, r, badRequest("role: one of admin, member, read_only"))
		return
	}
	for i, id := range ids {
		if !events.ValidID(id) {
			httpx.WriteError(w, r, badRequest("userIds[%d]: %q must match ^[A-Za-z0-9_-]{1,64}$", i, id))
			return
		}
	}
	conv := r.PathValue("id")
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		add, err := decide.AddMembers(s, caller.User(), ids, role, caller.App.Limits.MaxGroupMembers)
		if err != nil {
			return nil, err
		}
		ps := make([]events.Payload, len(add))
		for i, id := range add {
			ps[i] = &events.MemberJoined{ConversationID: conv, UserID: id, Role: role, AddedBy: caller.User()}
		}
		return a.newEvents(caller, ps)
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	ps, err := a.Store.Participants(r.Context(), db.Conversation{App: caller.App.Name, ID: conv})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"participants": ps})
}

// removeParticipant answers DELETE /conversations/{id}/participants/{userId}:
// an admin removes a member, or a member leaves.
func (a *API) removeParticipant(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	target := r.PathValue("userId") // checked by pathIDs
	conv := r.PathValue("id")
	out, err := a.Decide.Decide(r.Context(), caller.App.Name, conv, func(s *decide.State) ([]*events.Envelope, error) {
		if err := decide.RemoveMember(s, caller.User(), target); err != nil {
			return nil, err
		}
		e, err := a.event(caller, events.NewEventID(),
			&events.MemberLeft{ConversationID: conv, UserID: target, RemovedBy: caller.User()})
		if err != nil {
			return nil, err
		}
		return []*events.Envelope{e}, nil
	})
	if err != nil {
		httpx.WriteError(w, r, refusal(err))
		return
	}
	if !a.projected(w, r, out) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// projected waits for the read model to include a decided command's events.
// It reports false when it answered already: 202 with the last event's
// position, the read model being behind past the write wait.
func (a *API) projected(w http.ResponseWriter, r *http.Request, out decide.Outcome) bool {
	if len(out.Appended) == 0 {
		return true
	}
	seq := out.Appended[len(out.Appended)-1].Seq
	ctx, cancel := context.WithTimeout(r.Context(), a.WriteWait)
	defer cancel()
	if !a.Projected(ctx, seq) {
		accepted(w, seq, "")
		return false
	}
	return true
}

// refusalStatus is the HTTP status of each refusal code.
var refusalStatus = map[string]int{
	decide.CodeNotFound:       http.StatusNotFound,
	decide.CodeNotMember:      http.StatusForbidden,
	decide.CodeForbidden:      http.StatusForbidden,
	decide.CodeConflict:       http.StatusConflict,
	decide.CodeGone:           http.StatusGone,
	decide.CodeInvalidPayload: http.StatusBadRequest,
	decide.CodeTooLarge:       http.StatusRequestEntityTooLarge,
	decide.CodeClosed:         http.StatusConflict,
}

// refusal turns a decision's refusal into its HTTP error; a command that
// kept losing the race to change the conversation is a 409 the client may
// retry. Other errors pass through.
func refusal(err error) error {
	var ref *decide.Refusal
	if errors.As(err, &ref) {
		status, ok := refusalStatus[ref.Code]
		if !ok {
			status = http.StatusForbidden
		}
		return httpx.Errorf(status, ref.Code, "%s", ref.Message)
	}
	if errors.Is(err, decide.ErrBusy) {
		return httpx.Errorf(http.StatusConflict, "conflict", "the conversation changed too often while deciding: try again")
	}
	return err
}

// event builds an event the caller causes. A payload the catalogue refuses
// (a NUL in a title, say) is the request's fault: 400 naming the field.
func (a *API) event(caller *httpx.Caller, id string, p events.Payload) (*events.Envelope, error) {
	e, err := events.New(id, caller.App.Name, a.Now(), actorOf(caller), p)
	var invalid *events.InvalidError
	if errors.As(err, &invalid) {
		return nil, badRequest("%v", invalid.Err)
	}
	return e, err
}

// newEvents is a fresh event of the caller for each payload, in order.
func (a *API) newEvents(caller *httpx.Caller, ps []events.Payload) ([]*events.Envelope, error) {
	evs := make([]*events.Envelope, 0, len(ps))
	for _, p := range ps {
		e, err := a.event(caller, events.NewEventID(), p)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, nil
}

func actorOf(c *httpx.Caller) events.Actor {
	t := events.ActorUser
	if c.IsService() {
		t = events.ActorService
	}
	return events.Actor{ID: c.User(), Type: t}
}
