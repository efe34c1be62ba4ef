package wire

import (
	"maps"
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// MembersChanged is the data of conversation.updated after a conversion or a
// transfer (an admin's change has ConversationChange): the conversation
// as it is after the change, members sorted by id, and what changed.
type MembersChanged struct {
	ConversationID  string          `json:"conversationId"`
	Type            string          `json:"type"`
	ReplyPermission string          `json:"replyPermission"`
	CreatedBy       string          `json:"createdBy"`
	Members         []events.Member `json:"members"`
	// Converted is set when the change made a visitor a known client.
	Converted *Conversion `json:"converted,omitempty"`
	// Transferred is set when the conversation moved to another professional.
	Transferred *Transfer `json:"transferred,omitempty"`
}

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
func Converted(c *roster.Conversation, p *events.AnonymousConverted) MembersChanged {
	u := updated(p.ConversationID, c)
	u.Converted = &Conversion{AnonymousID: p.AnonymousID, UserID: p.UserID, By: p.ConvertedBy}
	return u
}

// Transferred is the conversation.updated of a transfer, c being the
// conversation after it.
func Transferred(c *roster.Conversation, p *events.ConversationTransferred) MembersChanged {
	u := updated(p.ConversationID, c)
	u.Transferred = &Transfer{From: p.FromUserIDs, To: p.ToUserID, By: p.TransferredBy}
	return u
}

func updated(id string, c *roster.Conversation) MembersChanged {
	u := MembersChanged{ConversationID: id, Type: string(c.Kind), ReplyPermission: string(c.ReplyPermission),
		CreatedBy: c.CreatedBy, Members: make([]events.Member, 0, len(c.Members))}
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		u.Members = append(u.Members, events.Member{UserID: id, Role: c.Members[id]})
	}
	return u
}
