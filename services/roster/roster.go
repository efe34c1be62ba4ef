// Package roster is the routing state: who belongs to which conversation, with
// which role, at the current position of the log. Moderation and fan-out each
// keep one, folded from the ordered log itself, never from a read model that
// may lag (DESIGN invariant 4). It does no I/O.
package roster

import (
	"time"

	"github.com/chatbackend/chat/events"
)

// Key names a conversation across applications.
type Key struct{ App, Conversation string }

// Conversation is the routing view of one conversation.
type Conversation struct {
	Kind            events.ConversationKind
	ReplyPermission events.ReplyPermission
	CreatedBy       string
	Members         map[string]events.Role
	// CanReply holds the members' reply overrides (nil until one is set).
	CanReply map[string]bool
	// Closed is set once an admin closed the conversation.
	Closed bool
	// Title, Settings, Pinned and CreatedAt complete the conversation
	// object deliveries carry (conversation.updated).
	Title     string
	Settings  events.Settings
	Pinned    bool
	CreatedAt time.Time
}

// Roster maps conversations to their members, and groups (teams) to
// theirs (groups.go).
type Roster struct {
	convs  map[Key]*Conversation
	groups groups
}

// New returns an empty roster.
func New() *Roster { return &Roster{convs: map[Key]*Conversation{}, groups: newGroups()} }

// Get returns a conversation, or nil when the log has not created it.
func (r *Roster) Get(app, id string) *Conversation { return r.convs[Key{app, id}] }

// Len is the number of conversations known.
func (r *Roster) Len() int { return len(r.convs) }

// folds declares the events that change membership; every other type of the
// catalogue leaves the roster as it is.
var folds = func() *events.Router[*Roster] {
	r := events.NewRouter[*Roster]("roster")
	events.On(r, (*Roster).created)
	events.On(r, (*Roster).joined)
	events.On(r, (*Roster).left)
	events.On(r, (*Roster).updated)
	events.On(r, (*Roster).participantUpdated)
	events.On(r, (*Roster).groupCreated)
	events.On(r, (*Roster).groupUpdated)
	events.On(r, (*Roster).groupMemberJoined)
	events.On(r, (*Roster).groupMemberLeft)
	events.On(r, (*Roster).groupJoinRequested)
	events.On(r, (*Roster).groupJoinRefused)
	events.On(r, (*Roster).targeted)
	events.On(r, (*Roster).converted)
	r.Ignore(events.TypeMessagePosted, events.TypeMessageModerated, events.TypeMessageEdited, events.TypeMessageDeleted,
		events.TypeDeliveryReceipt, events.TypeReadReceipt, events.TypeServiceAccountCreated, events.TypeWebhooksChanged,
		events.TypeModerationRulesChanged, events.TypeSettingsChanged, events.TypeNotificationsRead,
		events.TypeDirectoryUsersUpdated, events.TypeAnonymousUserCreated, events.TypeFileUploaded, events.TypeFileExpired,
		events.TypeConversationTransferred)
	return r
}()

// Types are the event types Apply folds; it ignores every other one.
func Types() []events.Type { return folds.Handled() }

// Apply folds one event. Events that do not change membership are ignored.
// The error is the payload's, when it does not decode (the consumer loop
// parks those before this point), or a fold's panic. Applying the same event
// twice leaves the same state.
func (r *Roster) Apply(e *events.Envelope) error { return folds.Handle(r, e) }

func (r *Roster) created(e *events.Envelope, p *events.ConversationCreated) error {
	k := Key{e.App, p.ConversationID}
	if r.convs[k] != nil {
		return nil // a conversation is created once; a repeat changes nothing
	}
	c := &Conversation{Kind: p.Kind, ReplyPermission: p.ReplyPermission, CreatedBy: p.CreatedBy,
		Members: make(map[string]events.Role, len(p.Members)), Title: p.Title, CreatedAt: e.At}
	for _, m := range p.Members {
		c.Members[m.UserID] = m.Role
	}
	r.convs[k] = c
	return nil
}

func (r *Roster) joined(e *events.Envelope, p *events.MemberJoined) error {
	if c := r.convs[Key{e.App, p.ConversationID}]; c != nil {
		c.Members[p.UserID] = p.Role
	}
	return nil
}

func (r *Roster) left(e *events.Envelope, p *events.MemberLeft) error {
	if c := r.convs[Key{e.App, p.ConversationID}]; c != nil {
		delete(c.Members, p.UserID)
		delete(c.CanReply, p.UserID)
	}
	return nil
}

func (r *Roster) updated(e *events.Envelope, p *events.ConversationUpdated) error {
	if c := r.convs[Key{e.App, p.ConversationID}]; c != nil {
		c.ReplyPermission = p.ReplyPermission
		c.Closed = c.Closed || p.Closed // a closed conversation stays closed
		c.Title, c.Settings, c.Pinned = p.Title, p.Settings, p.Pinned
	}
	return nil
}

func (r *Roster) participantUpdated(e *events.Envelope, p *events.ParticipantUpdated) error {
	c := r.convs[Key{e.App, p.ConversationID}]
	if c == nil || !c.IsMember(p.UserID) {
		return nil
	}
	c.Members[p.UserID] = p.Role
	if p.CanReply == nil {
		delete(c.CanReply, p.UserID)
		return nil
	}
	if c.CanReply == nil {
		c.CanReply = map[string]bool{}
	}
	c.CanReply[p.UserID] = *p.CanReply
	return nil
}

// IsMember reports whether user belongs to the conversation.
func (c *Conversation) IsMember(user string) bool {
	_, ok := c.Members[user]
	return ok
}

// CanPost decides whether user may post, and if not, the moderation reason
// (Allowed's Post cell).
func (c *Conversation) CanPost(user string) (bool, string) { return c.Can(user, Post) }

// MemberIDs lists the members, in no particular order.
func (c *Conversation) MemberIDs() []string {
	out := make([]string, 0, len(c.Members))
	for id := range c.Members {
		out = append(out, id)
	}
	return out
}

// Put sets a conversation as loaded from a store of the roster's state (the
// projector's memberships), replacing what the roster held for it.
func (r *Roster) Put(app, id string, c *Conversation) { r.convs[Key{app, id}] = c }
