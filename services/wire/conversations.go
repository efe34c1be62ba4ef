package wire

import (
	"time"

	"github.com/chatbackend/chat/events"
)

// ConversationChange is the data of conversation.updated: the conversation
// object's shared attributes after an admin's change (each member's own
// role, canReply and unread count are in GET /conversations), and who
// changed it.
type ConversationChange struct {
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Title           string          `json:"title"`
	Settings        events.Settings `json:"settings"`
	ReplyPermission string          `json:"replyPermission"`
	Pinned          bool            `json:"pinned"`
	Closed          bool            `json:"closed"`
	CreatedBy       string          `json:"createdBy"`
	CreatedAt       time.Time       `json:"createdAt"`
	By              string          `json:"by"`
	// After a visitor's conversion or a transfer (anonymous.go): the
	// members after it, and what happened.
	Members     []events.Member `json:"members,omitempty"`
	Converted   *Conversion     `json:"converted,omitempty"`
	Transferred *Transfer       `json:"transferred,omitempty"`
}

// ConversationUpdated is the delivery of a conversation's change.
func ConversationUpdated(p *events.ConversationUpdated) ConversationChange {
	settings := p.Settings
	if settings == nil {
		settings = events.Settings{}
	}
	return ConversationChange{ID: p.ConversationID, Type: string(p.Kind), Title: p.Title, Settings: settings,
		ReplyPermission: string(p.ReplyPermission), Pinned: p.Pinned, Closed: p.Closed, CreatedBy: p.CreatedBy,
		CreatedAt: p.CreatedAt.UTC(), By: p.UpdatedBy}
}

// MemberUpdate is the data of member.updated: a participant's role and
// reply override (canReply: true or false, null for none) after an admin's
// change.
type MemberUpdate struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Role           string `json:"role"`
	CanReply       *bool  `json:"canReply"`
	By             string `json:"by"`
}

// ParticipantUpdated is the delivery of a participant's change.
func ParticipantUpdated(p *events.ParticipantUpdated) MemberUpdate {
	return MemberUpdate{ConversationID: p.ConversationID, UserID: p.UserID, Role: string(p.Role), CanReply: p.CanReply,
		By: p.UpdatedBy}
}
