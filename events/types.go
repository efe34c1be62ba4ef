package events

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Type is an event's name as stored in the envelope and the Chat-Type header.
type Type string

const (
	TypeConversationCreated   Type = "ConversationCreated"
	TypeMemberJoined          Type = "MemberJoined"
	TypeMemberLeft            Type = "MemberLeft"
	TypeMessagePosted         Type = "MessagePosted"
	TypeMessageModerated      Type = "MessageModerated"
	TypeServiceAccountCreated Type = "ServiceAccountCreated"
)

// Payload is the typed content of one event.
type Payload interface {
	EventType() Type
	// Validate checks what the payload itself can know; permissions are the
	// business of the consumers that decide them.
	Validate() error
	// scope says where the event lives in the subject space.
	scope() scope
}

// newPayload returns an empty payload for a type, or nil when unknown. Adding
// an event means adding it here and to Types.
func newPayload(t Type) Payload {
	switch t {
	case TypeConversationCreated:
		return &ConversationCreated{}
	case TypeMemberJoined:
		return &MemberJoined{}
	case TypeMemberLeft:
		return &MemberLeft{}
	case TypeMessagePosted:
		return &MessagePosted{}
	case TypeMessageModerated:
		return &MessageModerated{}
	case TypeServiceAccountCreated:
		return &ServiceAccountCreated{}
	}
	return nil
}

// Types lists every event type this build knows, in catalogue order.
var Types = []Type{TypeConversationCreated, TypeMemberJoined, TypeMemberLeft, TypeMessagePosted, TypeMessageModerated,
	TypeServiceAccountCreated}

// ConversationKind is the shape of a conversation.
type ConversationKind string

const (
	KindOneToOne  ConversationKind = "one_to_one"
	KindGroup     ConversationKind = "group"
	KindBroadcast ConversationKind = "broadcast"
)

// Role is a participant's role inside one conversation.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleMember   Role = "member"
	RoleReadOnly Role = "read_only"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMember || r == RoleReadOnly }

// ReplyPermission says who may post in a conversation.
type ReplyPermission string

const (
	ReplyAll        ReplyPermission = "all"
	ReplyAdminsOnly ReplyPermission = "admins_only"
	ReplySenderOnly ReplyPermission = "sender_only"
	ReplyNone       ReplyPermission = "none"
)

// Valid reports whether p is a known permission.
func (p ReplyPermission) Valid() bool {
	switch p {
	case ReplyAll, ReplyAdminsOnly, ReplySenderOnly, ReplyNone:
		return true
	}
	return false
}

// Member is one participant as recorded when a conversation is created.
type Member struct {
	UserID string `json:"userId"`
	Role   Role   `json:"role"`
}

// ConversationCreated opens a conversation with its first members.
type ConversationCreated struct {
	ConversationID  string           `json:"conversationId"`
	Kind            ConversationKind `json:"type"`
	Title           string           `json:"title,omitempty"`
	ReplyPermission ReplyPermission  `json:"replyPermission"`
	CreatedBy       string           `json:"createdBy"`
	Members         []Member         `json:"members"`
}

func (*ConversationCreated) EventType() Type { return TypeConversationCreated }
func (e *ConversationCreated) scope() scope  { return convScope(e.ConversationID) }
func (e *ConversationCreated) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "createdBy", e.CreatedBy); err != nil {
		return err
	}
	switch e.Kind {
	case KindOneToOne, KindGroup, KindBroadcast:
	default:
		return fmt.Errorf("type: unknown conversation type %q", e.Kind)
	}
	if !e.ReplyPermission.Valid() {
		return fmt.Errorf("replyPermission: unknown value %q", e.ReplyPermission)
	}
	if err := checkText("title", e.Title); err != nil {
		return err
	}
	if len(e.Members) == 0 {
		return errors.New("members: empty")
	}
	seen := make(map[string]bool, len(e.Members))
	for i, m := range e.Members {
		if !ValidID(m.UserID) {
			return fmt.Errorf("members[%d].userId: invalid id %q", i, m.UserID)
		}
		if !m.Role.Valid() {
			return fmt.Errorf("members[%d].role: unknown role %q", i, m.Role)
		}
		if seen[m.UserID] {
			return fmt.Errorf("members[%d].userId: %q listed twice", i, m.UserID)
		}
		seen[m.UserID] = true
	}
	return nil
}

// MemberJoined adds a participant to a conversation.
type MemberJoined struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Role           Role   `json:"role"`
	AddedBy        string `json:"addedBy"`
}

func (*MemberJoined) EventType() Type { return TypeMemberJoined }
func (e *MemberJoined) scope() scope  { return convScope(e.ConversationID) }
func (e *MemberJoined) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "userId", e.UserID, "addedBy", e.AddedBy); err != nil {
		return err
	}
	if !e.Role.Valid() {
		return fmt.Errorf("role: unknown role %q", e.Role)
	}
	return nil
}

// MemberLeft removes a participant: they left, or an admin removed them.
type MemberLeft struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	RemovedBy      string `json:"removedBy"`
}

func (*MemberLeft) EventType() Type { return TypeMemberLeft }
func (e *MemberLeft) scope() scope  { return convScope(e.ConversationID) }
func (e *MemberLeft) Validate() error {
	return checkIDs("conversationId", e.ConversationID, "userId", e.UserID, "removedBy", e.RemovedBy)
}

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

func (*MessagePosted) EventType() Type { return TypeMessagePosted }
func (e *MessagePosted) scope() scope  { return convScope(e.ConversationID) }
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

func (*MessageModerated) EventType() Type { return TypeMessageModerated }
func (e *MessageModerated) scope() scope  { return convScope(e.ConversationID) }
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

// ServiceAccountCreated gives an internal service of the application its NATS
// account (PROTOCOL §4). It carries no secret: every chatd derives the
// password from its own NATS secret. The event id is ServiceAccountID, so
// creating the same account twice is one event.
type ServiceAccountCreated struct {
	Name string `json:"name"`
}

func (*ServiceAccountCreated) EventType() Type { return TypeServiceAccountCreated }
func (e *ServiceAccountCreated) scope() scope  { return scope{kind: scopeApp} }
func (e *ServiceAccountCreated) Validate() error {
	if !ValidServiceName(e.Name) {
		return fmt.Errorf("name: invalid service name %q", e.Name)
	}
	return nil
}

// ValidServiceName reports whether s matches ^[a-z0-9][a-z0-9-]{0,31}$. A
// service name has no "_", so the NATS user svc_{name}_{app} names one
// account only.
func ValidServiceName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// checkIDs validates name/value pairs of required ids.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !ValidID(pairs[i+1]) {
			return fmt.Errorf("%s: invalid id %q", pairs[i], pairs[i+1])
		}
	}
	return nil
}

// checkText refuses free text the read model could not store: PostgreSQL
// text holds valid UTF-8 without NUL (U+0000), and one event it refuses
// would hold up the projection of every event after it. Ids need no such
// check: ValidID allows ASCII letters, digits, '_' and '-' only.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s: contains the NUL character (U+0000)", field)
	}
	return nil
}
