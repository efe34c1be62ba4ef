package wire

import (
	"maps"
	"slices"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Transfer says which professionals handed the conversation to which.
type Transfer struct {
	From []string `json:"from"`
	To   string   `json:"to"`
	By   string   `json:"by"`
}

// Conversion says which visitor became which client, and who did it.
type Conversion struct {
	AnonymousID string `json:"anonymousId"`
	UserID      string `json:"userId"`
	By          string `json:"by"`
}

// Converted is the conversation.updated of a conversion, c being the
// conversation after it.
func Converted(c *roster.Conversation, p *events.AnonymousConverted) ConversationChange {
	u := changedMembers(p.ConversationID, c, p.ConvertedBy)
	u.Converted = &Conversion{AnonymousID: p.AnonymousID, UserID: p.UserID, By: p.ConvertedBy}
	return u
}

// Transferred is the conversation.updated of a transfer, c being the
// conversation after it.
func Transferred(c *roster.Conversation, p *events.ConversationTransferred) ConversationChange {
	u := changedMembers(p.ConversationID, c, p.TransferredBy)
	u.Transferred = &Transfer{From: p.FromUserIDs, To: p.ToUserID, By: p.TransferredBy}
	return u
}

// changedMembers is the conversation object after a change of its members
// by someone, with the members. createdAt is cut to the read model's
// microseconds, so a projector that loaded its roster from the read model
// writes what fan-out sent.
func changedMembers(id string, c *roster.Conversation, by string) ConversationChange {
	settings := c.Settings
	if settings == nil {
		settings = events.Settings{}
	}
	u := ConversationChange{ID: id, Type: string(c.Kind), Title: c.Title, Settings: settings,
		ReplyPermission: string(c.ReplyPermission), Pinned: c.Pinned, Closed: c.Closed, CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt.UTC().Truncate(time.Microsecond), By: by, Members: make([]events.Member, 0, len(c.Members))}
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		u.Members = append(u.Members, events.Member{UserID: id, Role: c.Members[id]})
	}
	return u
}
