// Package roster is the routing state: who belongs to which conversation, with
// which role, at the current position of the log. Moderation and fan-out each
// keep one, folded from the ordered log itself, never from a read model that
// may lag (DESIGN invariant 4). It does no I/O.
package roster

import "github.com/chatbackend/chat/events"

// Key names a conversation across applications.
type Key struct{ App, Conversation string }

// Conversation is the routing view of one conversation.
type Conversation struct {
	Kind            events.ConversationKind
	ReplyPermission events.ReplyPermission
	CreatedBy       string
	Members         map[string]events.Role
}

// Roster maps conversations to their members.
type Roster struct{ convs map[Key]*Conversation }

// New returns an empty roster.
func New() *Roster { return &Roster{convs: map[Key]*Conversation{}} }

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
	events.On(r, (*Roster).converted)
	r.Ignore(events.TypeMessagePosted, events.TypeMessageModerated, events.TypeMessageEdited, events.TypeMessageDeleted,
		events.TypeDeliveryReceipt, events.TypeReadReceipt, events.TypeServiceAccountCreated, events.TypeAnonymousUserCreated,
		events.TypeFileUploaded, events.TypeFileExpired, events.TypeConversationTransferred)
	return r
}()

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
		Members: make(map[string]events.Role, len(p.Members))}
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
	}
	return nil
}

// IsMember reports whether user belongs to the conversation.
func (c *Conversation) IsMember(user string) bool {
	_, ok := c.Members[user]
	return ok
}

// CanPost decides whether user may post, and if not, the moderation reason.
func (c *Conversation) CanPost(user string) (bool, string) {
	role, ok := c.Members[user]
	if !ok {
		return false, events.ReasonNotMember
	}
	return CanPost(role, c.ReplyPermission, user == c.CreatedBy)
}

// CanPost is the reply rule for a member with role in a conversation with
// permission perm; creator says whether the member created it.
func CanPost(role events.Role, perm events.ReplyPermission, creator bool) (bool, string) {
	switch {
	case role == events.RoleAdmin:
		return true, ""
	case role == events.RoleReadOnly:
		return false, events.ReasonReplyNotAllowed
	case perm == events.ReplyAll || perm == "":
		return true, ""
	case perm == events.ReplySenderOnly && creator:
		return true, ""
	}
	return false, events.ReasonReplyNotAllowed
}

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
