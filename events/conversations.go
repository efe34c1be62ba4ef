package events

import (
	"errors"
	"fmt"
	"time"
)

// Conversation events: a conversation is created, members join and leave,
// admins change the conversation (title, settings, pin, reply permission,
// closing it) and its participants (role, reply override).
const (
	TypeConversationCreated Type = "ConversationCreated"
	TypeMemberJoined        Type = "MemberJoined"
	TypeMemberLeft          Type = "MemberLeft"
	TypeConversationUpdated Type = "ConversationUpdated"
	TypeParticipantUpdated  Type = "ParticipantUpdated"
)

// ReasonClosed refuses a change to a closed conversation: a send (as a
// moderation reason), an edit, a deletion or an admin action.
const ReasonClosed = "closed"

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

// Limits of a conversation's settings document: a few client preferences,
// not a store.
const (
	MaxSettings          = 32
	MaxSettingValueBytes = 256
	MaxTitleBytes        = 200
)

// Settings are a conversation's client-side preferences, set by its admins:
// at most MaxSettings keys (ids), each a boolean, a number or a string of
// at most MaxSettingValueBytes. The server stores and delivers them; no
// rule reads them.
type Settings map[string]any

// Validate checks the document's bounds and value types.
func (s Settings) Validate() error {
	if len(s) > MaxSettings {
		return fmt.Errorf("settings: %d keys, at most %d", len(s), MaxSettings)
	}
	for k, v := range s {
		if !ValidID(k) {
			return fmt.Errorf("settings: key %q must match ^[A-Za-z0-9_-]{1,64}$", k)
		}
		switch v := v.(type) {
		case bool, float64:
		case string:
			if len(v) > MaxSettingValueBytes {
				return fmt.Errorf("settings.%s: at most %d bytes", k, MaxSettingValueBytes)
			}
			if err := checkText("settings."+k, v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("settings.%s: a boolean, a number or a string", k)
		}
	}
	return nil
}

// ConversationUpdated records a conversation's shared attributes after an
// admin changed them: title and settings, pin, reply permission, or its
// closing (Closed never goes back to false). It carries them all, and
// repeats what never changes (Kind, CreatedBy, CreatedAt), so its delivery,
// the conversation object, needs no lookup.
type ConversationUpdated struct {
	ConversationID  string           `json:"conversationId"`
	Kind            ConversationKind `json:"type"`
	Title           string           `json:"title"`
	Settings        Settings         `json:"settings,omitempty"`
	ReplyPermission ReplyPermission  `json:"replyPermission"`
	// Pinned is per conversation, as the seed's Conversation.is_pinned
	// ("for important announcements"): admins pin for every member.
	Pinned    bool      `json:"pinned"`
	Closed    bool      `json:"closed"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedBy string    `json:"updatedBy"`
}

func (*ConversationUpdated) EventType() Type   { return TypeConversationUpdated }
func (e *ConversationUpdated) scopeID() string { return e.ConversationID }
func (e *ConversationUpdated) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "createdBy", e.CreatedBy, "updatedBy", e.UpdatedBy); err != nil {
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
	if len(e.Title) > MaxTitleBytes {
		return fmt.Errorf("title: at most %d bytes", MaxTitleBytes)
	}
	if err := checkText("title", e.Title); err != nil {
		return err
	}
	return e.Settings.Validate()
}

// ParticipantUpdated records a participant's standing after an admin
// changed it: their role, and CanReply, the override of the conversation's
// reply permission for them (true or false wins over role and permission;
// nil: none). Leaving drops the override.
type ParticipantUpdated struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Role           Role   `json:"role"`
	CanReply       *bool  `json:"canReply"`
	UpdatedBy      string `json:"updatedBy"`
}

func (*ParticipantUpdated) EventType() Type   { return TypeParticipantUpdated }
func (e *ParticipantUpdated) scopeID() string { return e.ConversationID }
func (e *ParticipantUpdated) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "userId", e.UserID, "updatedBy", e.UpdatedBy); err != nil {
		return err
	}
	if !e.Role.Valid() {
		return fmt.Errorf("role: unknown role %q", e.Role)
	}
	return nil
}
