package events

import "fmt"

// Message events: a message is posted, then moderation decides it.
const (
	TypeMessagePosted    Type = "MessagePosted"
	TypeMessageModerated Type = "MessageModerated"
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
