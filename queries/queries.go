// Package queries is the read side of the REST API: handlers that answer from
// the projections through sqlc, never from the log.
package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/httpx"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// Store reads the projections. DB, when set, opens the snapshots that
// reads of several statements need (Sync).
type Store struct {
	Q  *db.Queries
	DB Beginner
}

// Conversation is a conversation as the caller sees it (PROTOCOL §3).
type Conversation struct {
	ID              string        `json:"id"`
	Type            string        `json:"type"`
	Title           string        `json:"title"`
	ReplyPermission string        `json:"replyPermission"`
	CreatedBy       string        `json:"createdBy"`
	CreatedAt       time.Time     `json:"createdAt"`
	LastActivityAt  time.Time     `json:"lastActivityAt"`
	LastMessage     *wire.Message `json:"lastMessage,omitempty"`
	UnreadCount     int64         `json:"unreadCount"`
	Role            string        `json:"role"`
	CanReply        bool          `json:"canReply"`
	Pinned          bool          `json:"pinned"`
	Closed          bool          `json:"closed"`
	// Settings are the admins' client preferences, as stored.
	Settings json.RawMessage `json:"settings"`
}

// Participant is one member of a conversation.
type Participant struct {
	UserID            string    `json:"userId"`
	Role              string    `json:"role"`
	CanReply          bool      `json:"canReply"`
	LastReadMessageID *string   `json:"lastReadMessageId"`
	ViaTarget         bool      `json:"viaTarget"`
	JoinedAt          time.Time `json:"joinedAt"`
	// CanReplyOverride is what an admin set for this participant (true or
	// false wins over role and permission), null when nothing is set.
	CanReplyOverride *bool `json:"canReplyOverride"`
}

// Member returns the caller's participation, ErrNotFound when the
// conversation does not exist and ErrNotMember when the caller is not in it.
func (s Store) Member(ctx context.Context, app, conv, user string) (db.Conversation, db.Participant, error) {
	c, err := s.Q.GetConversation(ctx, db.GetConversationParams{App: app, ID: conv})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, db.Participant{}, httpx.ErrNotFound
	}
	if err != nil {
		return c, db.Participant{}, fmt.Errorf("read conversation: %w", err)
	}
	p, err := s.Q.GetParticipant(ctx, db.GetParticipantParams{App: app, ConversationID: conv, UserID: user})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, p, httpx.ErrNotMember
	}
	if err != nil {
		return c, p, fmt.Errorf("read participant: %w", err)
	}
	return c, p, nil
}

// Summary is the caller's view of one conversation, p their participation.
func Summary(c db.Conversation, p db.Participant, unread int64, last *wire.Message) Conversation {
	can, _ := roster.Allowed(roster.Post, standing(c.ReplyPermission, c.CreatedBy, c.ClosedAt, p.UserID, p.Role, p.CanReply))
	activity := c.CreatedAt
	if last != nil {
		activity = last.CreatedAt
	}
	return Conversation{
		ID: c.ID, Type: c.Kind, Title: c.Title, ReplyPermission: c.ReplyPermission, CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, LastActivityAt: activity, LastMessage: last, UnreadCount: unread,
		Role: p.Role, CanReply: can, Pinned: c.Pinned, Closed: c.ClosedAt != nil, Settings: c.Settings,
	}
}

// standing is a participant's standing as the read model holds it, for
// the canReply it shows (decisions use the log's, services/decide).
func standing(perm, createdBy string, closedAt *time.Time, user, role string, override *bool) roster.Standing {
	return roster.Standing{Member: true, Role: events.Role(role), Creator: user == createdBy, CanReply: override,
		Perm: events.ReplyPermission(perm), Closed: closedAt != nil}
}

// MessageOf turns a row into the message object.
func MessageOf(m db.Message) wire.Message {
	return wire.Message{
		ID: m.ID, ClientMsgID: m.ClientMsgID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		SenderType: m.SenderType, Content: m.Content, ContentType: m.ContentType, Attachment: m.AttachmentID,
		ReplyTo: m.ReplyTo, CreatedAt: m.CreatedAt, EditedAt: m.EditedAt, DeletedAt: m.DeletedAt,
		ModerationStatus: m.ModerationStatus, Seq: uint64(m.Seq),
	}
}

// Participants lists the members of a conversation.
func (s Store) Participants(ctx context.Context, c db.Conversation) ([]Participant, error) {
	rows, err := s.Q.ListParticipants(ctx, db.ListParticipantsParams{App: c.App, ConversationID: c.ID})
	if err != nil {
		return nil, fmt.Errorf("list participants: %w", err)
	}
	out := make([]Participant, len(rows))
	for i, p := range rows {
		can, _ := roster.Allowed(roster.Post, standing(c.ReplyPermission, c.CreatedBy, c.ClosedAt, p.UserID, p.Role, p.CanReply))
		out[i] = Participant{UserID: p.UserID, Role: p.Role, CanReply: can, CanReplyOverride: p.CanReply,
			LastReadMessageID: p.LastReadMessageID, JoinedAt: p.JoinedAt}
	}
	return out, s.markViaTarget(ctx, c, out)
}

// Handlers serve the read endpoints.
type Handlers struct{ Store Store }

// Conversation answers GET /conversations/{id}.
func (h Handlers) Conversation(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	c, p, err := h.Store.Member(r.Context(), caller.App.Name, r.PathValue("id"), caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, Summary(c, p, 0, nil))
}

// Participants answers GET /conversations/{id}/participants (members only).
func (h Handlers) Participants(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	c, me, err := h.Store.Member(r.Context(), caller.App.Name, r.PathValue("id"), caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ps, err := h.Store.Participants(r.Context(), c)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if c.Kind == string(events.KindBroadcast) && me.Role != string(events.RoleAdmin) {
		// An announcement's audience is its author's to list (and the
		// admins'): a recipient sees the admins and themself, not who
		// else in the application received it.
		ps = slices.DeleteFunc(ps, func(p Participant) bool { return p.Role != string(events.RoleAdmin) && p.UserID != caller.User() })
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"participants": ps})
}

// Messages answers GET /conversations/{id}/messages?before=&after=&limit=,
// newest first, cursor-paged by seq; members only.
func (h Handlers) Messages(w http.ResponseWriter, r *http.Request) {
	caller := httpx.CallerOf(r)
	c, _, err := h.Store.Member(r.Context(), caller.App.Name, r.PathValue("id"), caller.User())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	limit, err := pageLimit(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	before, err := intParam(r, "before", 1<<62, 1, 1<<62)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	after, err := intParam(r, "after", 0, 0, 1<<62)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	rows, err := h.Store.Q.ListMessages(r.Context(), db.ListMessagesParams{
		App: c.App, ConversationID: c.ID, Viewer: caller.User(),
		Before: before, After: after, MaxRows: int32(limit + 1)})
	if err != nil {
		httpx.WriteError(w, r, fmt.Errorf("list messages: %w", err))
		return
	}
	more := int64(len(rows)) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]wire.Message, len(rows))
	for i, m := range rows {
		out[i] = MessageOf(m)
	}
	resp := map[string]any{"messages": out, "hasMore": more}
	if more {
		resp["nextBefore"] = out[len(out)-1].Seq
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// Page sizes of every list endpoint (PROTOCOL §3).
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// pageLimit is the request's limit: 1 to MaxLimit, DefaultLimit when absent.
func pageLimit(r *http.Request) (int64, error) {
	return intParam(r, "limit", DefaultLimit, 1, MaxLimit)
}

func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_payload", "%s must be an integer between %d and %d", name, lo, hi)
	}
	return v, nil
}

// After is a page of a list in log order: at most Limit items after the
// position After (the seq of the last item of the previous page).
type After struct {
	Limit int64
	After int64
}

// PageAfter reads limit and after from the request.
func PageAfter(r *http.Request) (After, error) {
	limit, err := pageLimit(r)
	if err != nil {
		return After{}, err
	}
	after, err := intParam(r, "after", 0, 0, 1<<62)
	return After{Limit: limit, After: after}, err
}
