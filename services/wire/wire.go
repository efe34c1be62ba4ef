// Package wire holds the JSON shapes clients see, shared by real-time
// deliveries and the REST API so both speak the same objects (PROTOCOL §2).
package wire

import (
	"time"

	"github.com/chatbackend/chat/events"
)

// Message is the message object of PROTOCOL §2.
type Message struct {
	ID               string     `json:"id"`
	ClientMsgID      string     `json:"clientMsgId"`
	ConversationID   string     `json:"conversationId"`
	SenderID         string     `json:"senderId"`
	SenderType       string     `json:"senderType"`
	Content          string     `json:"content"`
	ContentType      string     `json:"contentType"`
	Attachment       *string    `json:"attachment,omitempty"`
	ReplyTo          *string    `json:"replyTo,omitempty"`
	CreatedAt        time.Time  `json:"createdAt"`
	EditedAt         *time.Time `json:"editedAt,omitempty"`
	DeletedAt        *time.Time `json:"deletedAt,omitempty"`
	ModerationStatus string     `json:"moderationStatus"`
	IsAnnouncement   bool       `json:"isAnnouncement"`
	Seq              uint64     `json:"seq"`
}

// MessageFromEvent builds the message object from its posting, at position seq
// and created at the posting's time.
func MessageFromEvent(m *events.MessagePosted, at time.Time, seq uint64, status events.ModerationStatus) Message {
	return Message{
		ID: m.MessageID, ClientMsgID: m.ClientMsgID, ConversationID: m.ConversationID,
		SenderID: m.SenderID, SenderType: string(m.SenderType), Content: m.Content,
		ContentType: string(m.ContentType), Attachment: optional(m.AttachmentID), ReplyTo: optional(m.ReplyTo),
		CreatedAt: at.UTC(), ModerationStatus: string(status), Seq: seq,
	}
}

// MessageEdited is the message object after an edit at time at.
func MessageEdited(p *events.MessageEdited, at time.Time) Message {
	m := fromPosting(p.MessageID, p.ConversationID, &p.Message)
	m.Content = p.Content
	edited := at.UTC()
	m.EditedAt = &edited
	return m
}

// MessageDeleted is the tombstone a deletion at time at leaves: the ids
// stay, the content is gone.
func MessageDeleted(p *events.MessageDeleted, at time.Time) Message {
	m := fromPosting(p.MessageID, p.ConversationID, &p.Message)
	deleted := at.UTC()
	m.DeletedAt = &deleted
	return m
}

// fromPosting is an approved message as posted, without content: edits
// and deletions happen only to approved messages.
func fromPosting(id, conv string, p *events.Posting) Message {
	return Message{
		ID: id, ClientMsgID: p.ClientMsgID, ConversationID: conv, SenderID: p.SenderID,
		SenderType: string(p.SenderType), ContentType: string(p.ContentType), Attachment: optional(p.AttachmentID),
		ReplyTo: optional(p.ReplyTo), CreatedAt: p.PostedAt.UTC(), ModerationStatus: string(events.StatusApproved),
		Seq: p.PostedSeq,
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ModerationResult is what the sender learns about its message.
type ModerationResult struct {
	ClientMsgID    string `json:"clientMsgId"`
	MessageID      string `json:"messageId"`
	ConversationID string `json:"conversationId"`
	Status         string `json:"status"`
	Reason         string `json:"reason,omitempty"`
}

// MemberChange is the data of member.joined and member.left.
type MemberChange struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Role           string `json:"role,omitempty"`
	By             string `json:"by"`
}

// Receipt is the data of read.receipt and delivery.receipt: UserID has read
// (received) everything of the conversation up to and including MessageID.
type Receipt struct {
	ConversationID string    `json:"conversationId"`
	UserID         string    `json:"userId"`
	MessageID      string    `json:"messageId"`
	MessageSeq     uint64    `json:"messageSeq"`
	At             time.Time `json:"at"`
}

// ReceiptFromEvent is the delivery of a receipt made at at.
func ReceiptFromEvent(r *events.Receipt, at time.Time) Receipt {
	return Receipt{ConversationID: r.ConversationID, UserID: r.UserID, MessageID: r.MessageID, MessageSeq: r.MessageSeq, At: at}
}
