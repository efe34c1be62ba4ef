package decide

import (
	"maps"
	"slices"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Profile is a conversation's attributes the roster does not keep.
type Profile struct {
	Kind      events.ConversationKind
	Title     string
	Settings  events.Settings
	Pinned    bool
	CreatedAt time.Time
}

// created notes the conversation's profile and group; its members are the
// roster's.
func (s *State) created(e *events.Envelope, p *events.ConversationCreated) error {
	if p.ConversationID == s.ID && s.Profile.CreatedAt.IsZero() { // a repeat keeps the first
		s.Profile = Profile{Kind: p.Kind, Title: p.Title, CreatedAt: e.At}
		s.Group = p.GroupID
	}
	return nil
}

func (s *State) updated(_ *events.Envelope, p *events.ConversationUpdated) error {
	if p.ConversationID == s.ID {
		s.Profile.Title, s.Profile.Settings, s.Profile.Pinned = p.Title, p.Settings, p.Pinned
	}
	return nil
}

// Existing reports whether the conversation exists: creating a one_to_one
// whose pair-derived id does appends nothing, the caller answers with it.
func Existing(s *State) bool { return s.Conversation() != nil }

// allowed checks one cell of the permission matrix for the actor.
func allowed(c *roster.Conversation, actor string, a roster.Action, format string, args ...any) *Refusal {
	if ok, code := c.Can(actor, a); !ok {
		if code == events.ReasonNotMember {
			return refuse(code, "you are not a member of this conversation")
		}
		if code == roster.CodeClosed {
			return refuse(code, "the conversation is closed")
		}
		return refuse(code, format, args...)
	}
	return nil
}

// ConversationChange changes the attributes of a ConversationUpdated that
// starts as the conversation is now.
type ConversationChange func(*events.ConversationUpdated)

// UpdateConversation decides an admin's change of the conversation's
// shared attributes (title, settings, pin, reply permission): the event
// recording them all after the change, nil when nothing changes.
func UpdateConversation(s *State, actor string, change ConversationChange) (*events.ConversationUpdated, error) {
	return updateConversation(s, actor, roster.Administer, change)
}

// CloseConversation decides an admin's closing the conversation: from then
// on history stays readable to members, and sends, edits, deletions and
// admin actions are refused with code closed. Closing it again changes
// nothing.
func CloseConversation(s *State, actor string) (*events.ConversationUpdated, error) {
	return updateConversation(s, actor, roster.Close, func(u *events.ConversationUpdated) { u.Closed = true })
}

func updateConversation(s *State, actor string, a roster.Action, change ConversationChange) (*events.ConversationUpdated, error) {
	c := s.Conversation()
	if c == nil {
		return nil, refuse(CodeNotFound, "no such conversation")
	}
	if r := allowed(c, actor, a, "only conversation admins change the conversation"); r != nil {
		return nil, r
	}
	now := s.current(actor)
	next := now
	next.Settings = maps.Clone(now.Settings)
	change(&next)
	if next.Title == now.Title && maps.Equal(next.Settings, now.Settings) && next.ReplyPermission == now.ReplyPermission &&
		next.Pinned == now.Pinned && next.Closed == now.Closed {
		return nil, nil
	}
	return &next, nil
}

// current is the conversation as it is, as the event a change starts from.
func (s *State) current(actor string) events.ConversationUpdated {
	c, p := s.Conversation(), s.Profile
	return events.ConversationUpdated{ConversationID: s.ID, Kind: c.Kind, Title: p.Title, Settings: p.Settings,
		ReplyPermission: c.ReplyPermission, Pinned: p.Pinned, Closed: c.Closed, CreatedBy: c.CreatedBy,
		CreatedAt: p.CreatedAt, UpdatedBy: actor}
}

// ParticipantChange is what an admin changes on a participant: Role when
// set, and the reply override when SetCanReply (CanReply nil removes it).
type ParticipantChange struct {
	Role        *events.Role
	SetCanReply bool
	CanReply    *bool
}

// UpdateParticipant decides an admin's change of target's role or reply
// override: the event recording the participant after it, nil when nothing
// changes. No change may leave a conversation with other members and no
// admin.
func UpdateParticipant(s *State, actor, target string, ch ParticipantChange) (*events.ParticipantUpdated, error) {
	c, _, r := member(s, actor)
	if r != nil {
		return nil, r
	}
	if r := allowed(c, actor, roster.Administer, "only conversation admins change participants"); r != nil {
		return nil, r
	}
	role, ok := c.Members[target]
	if !ok {
		return nil, refuse(CodeNotFound, "%s is not a participant", target)
	}
	st := c.Standing(target)
	next := &events.ParticipantUpdated{ConversationID: s.ID, UserID: target, Role: role, CanReply: st.CanReply, UpdatedBy: actor}
	if ch.Role != nil {
		next.Role = *ch.Role
	}
	if ch.SetCanReply {
		next.CanReply = ch.CanReply
	}
	if next.Role == role && equalOverride(next.CanReply, st.CanReply) {
		return nil, nil
	}
	if role == events.RoleAdmin && next.Role != events.RoleAdmin && lastAdmin(c, target) {
		return nil, refuse(CodeConflict, "%s is the last admin: make another participant admin first", target)
	}
	return next, nil
}

func equalOverride(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// losesEveryAdmin reports whether giving users another role than admin
// leaves a conversation with members and no admin, when it had one.
func losesEveryAdmin(c *roster.Conversation, users []string) bool {
	admins := 0
	for id, role := range c.Members {
		if role == events.RoleAdmin && !slices.Contains(users, id) {
			admins++
		}
	}
	had := slices.ContainsFunc(users, func(u string) bool { return c.Members[u] == events.RoleAdmin })
	return had && admins == 0 && len(c.Members) > 1
}

// lastAdmin reports whether user is the only admin of a conversation that
// has other members: taking their role away would leave those members
// with no one to administer it.
func lastAdmin(c *roster.Conversation, user string) bool {
	if len(c.Members) < 2 {
		return false
	}
	for id, role := range c.Members {
		if id != user && role == events.RoleAdmin {
			return false
		}
	}
	return true
}
