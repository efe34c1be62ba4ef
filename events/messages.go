package events

import (
	"errors"
	"fmt"
	"time"
)

// Message events: a message is posted, moderation decides it, its author
// may edit it, its author or a conversation admin may delete it.
const (
	TypeMessagePosted    Type = "MessagePosted"
	TypeMessageModerated Type = "MessageModerated"
	TypeMessageEdited    Type = "MessageEdited"
	TypeMessageDeleted   Type = "MessageDeleted"
)

// ContentType is the kind of a message body.
type ContentType string

const (
	ContentText  ContentType = "text"
	ContentImage ContentType = "image"
	ContentFile  ContentType = "file"
)

// MessagePosted records a message as the sender sent it, before moderation.
// The message's creation time is the envelope's At: server time at ingress.
type MessagePosted struct {
	MessageID      string      `json:"messageId"`
	ClientMsgID    string      `json:"clientMsgId"`
	ConversationID string      `json:"conversationId"`
	SenderID       string      `json:"senderId"`
	SenderType     ActorType   `json:"senderType"`
	Content        string      `json:"content"`
	ContentType    ContentType `json:"contentType"`
	AttachmentID   string      `json:"attachmentId,omitempty"`
	ReplyTo        string      `json:"replyTo,omitempty"`
	// Imported marks history brought in by a backfill: its decision was
	// made before and comes with it, so moderation does not decide it again.
	Imported bool `json:"imported,omitempty"`
	// Announcement marks an announcement's message: POST /announcements
	// appends its decision with it, so moderation does not decide it.
	Announcement bool `json:"announcement,omitempty"`
}

func (*MessagePosted) EventType() Type   { return TypeMessagePosted }
func (e *MessagePosted) scopeID() string { return e.ConversationID }
func (e *MessagePosted) Validate() error {
	if err := checkIDs("messageId", e.MessageID, "clientMsgId", e.ClientMsgID,
		"conversationId", e.ConversationID, "senderId", e.SenderID); err != nil {
		return err
	}
	switch e.ContentType {
	case ContentText, ContentImage, ContentFile:
	default:
		return fmt.Errorf("contentType: unknown value %q", e.ContentType)
	}
	switch e.SenderType {
	case ActorUser, ActorAnonymous, ActorService, ActorSystem:
	default:
		return fmt.Errorf("senderType: unknown value %q", e.SenderType)
	}
	if err := checkText("content", e.Content); err != nil {
		return err
	}
	if e.AttachmentID != "" && !ValidID(e.AttachmentID) {
		return fmt.Errorf("attachmentId: invalid id %q", e.AttachmentID)
	}
	if e.ReplyTo != "" && !ValidID(e.ReplyTo) {
		return fmt.Errorf("replyTo: invalid id %q", e.ReplyTo)
	}
	return nil
}

// ModerationStatus is the outcome of moderating one message.
type ModerationStatus string

const (
	StatusApproved ModerationStatus = "approved"
	StatusPending  ModerationStatus = "pending"
	StatusRejected ModerationStatus = "rejected"
)

// Moderation reasons (PROTOCOL §2).
const (
	ReasonNotMember       = "not_member"
	ReasonReplyNotAllowed = "reply_not_allowed"
	ReasonBadWords        = "bad_words"
	// ReasonReplyNotFound: replyTo names no message of the same conversation.
	ReasonReplyNotFound = "not_found"
	// ReasonAttachmentNotFound: attachmentId names no upload of the sender
	// for the same conversation (or one that expired).
	ReasonAttachmentNotFound = "not_found"
)

// MessageModerated is moderation's decision on one posted message. It repeats
// the sender and client id so the sender's confirmation needs no lookup.
type MessageModerated struct {
	MessageID      string           `json:"messageId"`
	ConversationID string           `json:"conversationId"`
	SenderID       string           `json:"senderId"`
	ClientMsgID    string           `json:"clientMsgId"`
	Status         ModerationStatus `json:"status"`
	Reason         string           `json:"reason,omitempty"`
	// PostedSeq is the stream position of the MessagePosted being decided.
	PostedSeq uint64 `json:"postedSeq"`
}

func (*MessageModerated) EventType() Type   { return TypeMessageModerated }
func (e *MessageModerated) scopeID() string { return e.ConversationID }
func (e *MessageModerated) Validate() error {
	if err := checkIDs("messageId", e.MessageID, "conversationId", e.ConversationID,
		"senderId", e.SenderID, "clientMsgId", e.ClientMsgID); err != nil {
		return err
	}
	switch e.Status {
	case StatusApproved, StatusPending, StatusRejected:
	default:
		return fmt.Errorf("status: unknown value %q", e.Status)
	}
	return checkText("reason", e.Reason)
}

// Posting repeats, in an edit or a deletion, what the message was posted
// with and does not change, so the change's delivery (the whole message
// object) needs no lookup.
type Posting struct {
	ClientMsgID  string      `json:"clientMsgId"`
	SenderID     string      `json:"senderId"`
	SenderType   ActorType   `json:"senderType"`
	ContentType  ContentType `json:"contentType"`
	AttachmentID string      `json:"attachmentId,omitempty"`
	ReplyTo      string      `json:"replyTo,omitempty"`
	PostedAt     time.Time   `json:"postedAt"`
	PostedSeq    uint64      `json:"postedSeq"`
}

func (p *Posting) validate() error {
	if err := checkIDs("message.clientMsgId", p.ClientMsgID, "message.senderId", p.SenderID); err != nil {
		return err
	}
	if p.PostedSeq == 0 {
		return errors.New("message.postedSeq: missing")
	}
	return nil
}

// MessageEdited replaces the content of an approved message; only its
// author edits it (decided at the conversation's position, services/decide).
// The edit's time is the envelope's At.
type MessageEdited struct {
	MessageID      string `json:"messageId"`
	ConversationID string `json:"conversationId"`
	// ClientMsgID is the edit command's own id, not the message's.
	ClientMsgID string  `json:"clientMsgId"`
	Content     string  `json:"content"`
	Message     Posting `json:"message"`
}

func (*MessageEdited) EventType() Type   { return TypeMessageEdited }
func (e *MessageEdited) scopeID() string { return e.ConversationID }
func (e *MessageEdited) Validate() error {
	if err := checkIDs("messageId", e.MessageID, "conversationId", e.ConversationID, "clientMsgId", e.ClientMsgID); err != nil {
		return err
	}
	if err := checkText("content", e.Content); err != nil {
		return err
	}
	return e.Message.validate()
}

// MessageDeleted turns a message into a tombstone: its ids stay, its
// content is gone for good. The deletion's time is the envelope's At.
type MessageDeleted struct {
	MessageID      string `json:"messageId"`
	ConversationID string `json:"conversationId"`
	// ClientMsgID is the delete command's own id, not the message's.
	ClientMsgID string  `json:"clientMsgId"`
	DeletedBy   string  `json:"deletedBy"`
	Message     Posting `json:"message"`
}

func (*MessageDeleted) EventType() Type   { return TypeMessageDeleted }
func (e *MessageDeleted) scopeID() string { return e.ConversationID }
func (e *MessageDeleted) Validate() error {
	if err := checkIDs("messageId", e.MessageID, "conversationId", e.ConversationID,
		"clientMsgId", e.ClientMsgID, "deletedBy", e.DeletedBy); err != nil {
		return err
	}
	return e.Message.validate()
}
