package roster

import "github.com/chatbackend/chat/events"

// Audience is who learns of one event of a conversation: every member at
// the event's position (All), or only Users, each a member then. Fan-out
// resolves it to topics at once; the projector records it for sync, Users
// only when the rule picks a subset, so both deliver to the same people.
type Audience struct {
	All   bool
	Users []string
}

// IDs resolves the audience against c, the conversation at the event's
// position.
func (a Audience) IDs(c *Conversation) []string {
	if a.All {
		return c.MemberIDs()
	}
	return a.Users
}

// ToldOfMember is who learns that user joined or left (c holds the members
// after a join, before a leave): every member of a conversation of at most
// upTo members; in larger ones (announcement audiences, big groups) only
// the user and the admins, so filling a group of n members costs n
// deliveries rather than n².
func (c *Conversation) ToldOfMember(user string, upTo int) Audience {
	if len(c.Members) <= upTo {
		return Audience{All: true}
	}
	out := []string{user}
	for id, role := range c.Members {
		if role == events.RoleAdmin && id != user {
			out = append(out, id)
		}
	}
	return Audience{Users: out}
}

// ToldOfReceipt is who learns of a receipt: every member of a conversation
// of at most upTo members; in larger ones only the reader (their other
// devices) and the senders of the messages the receipt newly covers who are
// still members, so a read in a big group costs a few deliveries, not one
// per member.
func (c *Conversation) ToldOfReceipt(r *events.Receipt, upTo int) Audience {
	if len(c.Members) <= upTo {
		return Audience{All: true}
	}
	out := make([]string, 0, len(r.Senders)+1)
	if c.IsMember(r.UserID) {
		out = append(out, r.UserID)
	}
	for _, u := range r.Senders {
		if u != r.UserID && c.IsMember(u) {
			out = append(out, u)
		}
	}
	return Audience{Users: out}
}
