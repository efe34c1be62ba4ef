package roster

import "github.com/chatbackend/chat/events"

// Action is something a user does in a conversation. Every permission of a
// conversation is one cell of Allowed's matrix: moderation (posting), the
// command side (edits, deletions, receipts, administration), the live relay
// (typing, focus) and the read side (canReply) all ask it.
type Action int

const (
	// Read covers history, participants, receipts and focus.
	Read Action = iota + 1
	// Post is sending a message.
	Post
	// Type is sending a typing signal: whoever may not post has nothing to
	// type, so it follows Post (a read_only member does not type).
	Type
	// EditOwn is editing one's own message: posting again, so Post's rule.
	EditOwn
	// DeleteOwn is deleting one's own message: a member may take back what
	// they said whatever their role (a read_only author included), until
	// the conversation is closed.
	DeleteOwn
	// DeleteOthers is deleting another's message: admins.
	DeleteOthers
	// Administer is changing the conversation (title, settings, pin, reply
	// permission) or its participants (adding, removing others, role,
	// canReply): admins, until the conversation is closed.
	Administer
	// Close is closing the conversation: admins; closing it again changes
	// nothing.
	Close
	// Leave is leaving: any member, closed or not (the last admin of a group
	// must hand over first, a rule of the command side).
	Leave
)

// Refusal codes Allowed gives besides the moderation reasons
// events.ReasonNotMember and events.ReasonReplyNotAllowed (PROTOCOL §2).
const (
	CodeForbidden = "forbidden"
	CodeClosed    = events.ReasonClosed
)

// Standing is everything about one user in one conversation that a
// permission depends on. New facts (a group's admins, an anonymous
// visitor) are new fields: Allowed's signature stays.
type Standing struct {
	Member bool
	Role   events.Role
	// Creator is true for the user who created the conversation.
	Creator bool
	// CanReply is the participant's override of the reply permission:
	// true or false wins over role and permission, nil leaves them to
	// decide.
	CanReply *bool
	Perm     events.ReplyPermission
	Closed   bool
}

// Allowed is the whole permission matrix: whether a user of standing s may
// do a, and if not the refusal code (not_member, reply_not_allowed,
// forbidden, closed). It is pure; its table test covers every cell.
func Allowed(a Action, s Standing) (bool, string) {
	if !s.Member {
		return false, events.ReasonNotMember
	}
	switch a {
	case Read, Leave:
		return true, ""
	case Close:
		return admin(s)
	}
	if s.Closed {
		return false, CodeClosed
	}
	switch a {
	case Post, Type, EditOwn:
		return mayPost(s)
	case DeleteOwn:
		return true, ""
	case DeleteOthers, Administer:
		return admin(s)
	}
	return false, CodeForbidden // an action this build does not know
}

func admin(s Standing) (bool, string) {
	if s.Role == events.RoleAdmin {
		return true, ""
	}
	return false, CodeForbidden
}

// mayPost is the reply rule: the participant's override first; then admins
// post under every permission (an announcement's author, in a conversation
// no one else replies to), read_only members never; the others as the
// conversation's permission says (sender_only: its creator).
func mayPost(s Standing) (bool, string) {
	if s.CanReply != nil {
		if *s.CanReply {
			return true, ""
		}
		return false, events.ReasonReplyNotAllowed
	}
	switch {
	case s.Role == events.RoleAdmin:
		return true, ""
	case s.Role == events.RoleReadOnly:
		return false, events.ReasonReplyNotAllowed
	case s.Perm == events.ReplyAll || s.Perm == "":
		return true, ""
	case s.Perm == events.ReplySenderOnly && s.Creator:
		return true, ""
	}
	return false, events.ReasonReplyNotAllowed
}

// Standing is user's standing in the conversation at the roster's position.
func (c *Conversation) Standing(user string) Standing {
	role, member := c.Members[user]
	s := Standing{Member: member, Role: role, Creator: user == c.CreatedBy, Perm: c.ReplyPermission, Closed: c.Closed}
	if v, ok := c.CanReply[user]; ok && member {
		s.CanReply = &v
	}
	return s
}

// Can decides whether user may do a in the conversation, and if not why.
func (c *Conversation) Can(user string, a Action) (bool, string) {
	return Allowed(a, c.Standing(user))
}
