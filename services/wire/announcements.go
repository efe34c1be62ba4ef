package wire

import (
	"time"

	"github.com/chatbackend/chat/events"
)

// Announcement is announcement.new's data (PROTOCOL §2), and an item of
// GET /announcements.
type Announcement struct {
	AnnouncementID  string     `json:"announcementId"`
	ConversationID  string     `json:"conversationId"`
	MessageID       string     `json:"messageId"`
	Title           string     `json:"title"`
	Content         string     `json:"content"`
	From            string     `json:"from"`
	Pinned          bool       `json:"pinned"`
	ExpiresAt       *time.Time `json:"expiresAt,omitempty"`
	ReplyPermission string     `json:"replyPermission"`
	Attachment      *string    `json:"attachment,omitempty"`
}

// AnnouncementFromEvent is the announcement an AnnouncementTargeted part
// carries, the same in every part.
func AnnouncementFromEvent(p *events.AnnouncementTargeted) Announcement {
	a := Announcement{AnnouncementID: p.AnnouncementID, ConversationID: p.ConversationID, MessageID: p.MessageID,
		Title: p.Title, Content: p.Content, From: p.From, Pinned: p.Pinned, ReplyPermission: string(p.ReplyPermission),
		Attachment: optional(p.AttachmentID)}
	if p.ExpiresAt != nil {
		t := p.ExpiresAt.UTC()
		a.ExpiresAt = &t
	}
	return a
}
