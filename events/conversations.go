package events

import (
	"errors"
	"fmt"
)

// Conversation events: a conversation is created, members join and leave.
const (
	TypeConversationCreated Type = "ConversationCreated"
	TypeMemberJoined        Type = "MemberJoined"
	TypeMemberLeft          Type = "MemberLeft"
)

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
	// GroupID, when set, is the group (team) the conversation belongs to:
	// its members may see and join it.
	GroupID string `json:"groupId,omitempty"`
}

func (*ConversationCreated) EventType() Type   { return TypeConversationCreated }
func (e *ConversationCreated) scopeID() string { return e.ConversationID }
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
	if e.GroupID != "" && !ValidID(e.GroupID) {
		return fmt.Errorf("groupId: invalid id %q", e.GroupID)
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

func (*MemberJoined) EventType() Type   { return TypeMemberJoined }
func (e *MemberJoined) scopeID() string { return e.ConversationID }
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

func (*MemberLeft) EventType() Type   { return TypeMemberLeft }
func (e *MemberLeft) scopeID() string { return e.ConversationID }
func (e *MemberLeft) Validate() error {
	return checkIDs("conversationId", e.ConversationID, "userId", e.UserID, "removedBy", e.RemovedBy)
}
