package events

import (
	"errors"
	"fmt"
	"strings"
)

// Group (team) events: the level above conversations in the seed's room
// hierarchy. A group is created with its creator as admin; anyone of the
// application may ask to join; an admin accepts by adding the member or
// refuses; members leave or are removed. Each is decided at the group's
// position (services/decide), under chat.evt.{app}.group.{groupId}.
const (
	TypeGroupCreated       Type = "GroupCreated"
	TypeGroupUpdated       Type = "GroupUpdated"
	TypeGroupJoinRequested Type = "GroupJoinRequested"
	TypeGroupJoinRefused   Type = "GroupJoinRefused"
	TypeGroupMemberJoined  Type = "GroupMemberJoined"
	TypeGroupMemberLeft    Type = "GroupMemberLeft"
)

// MaxGroupNameBytes bounds a group's name.
const MaxGroupNameBytes = 200

// ValidGroupRole reports whether r is a role a group member may have:
// admin or member (read_only is a conversation's).
func ValidGroupRole(r Role) bool { return r == RoleAdmin || r == RoleMember }

// CheckGroupName refuses a name no group may have: blank, longer than
// MaxGroupNameBytes, or text the read model cannot store.
func CheckGroupName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("name: empty")
	}
	if len(name) > MaxGroupNameBytes {
		return fmt.Errorf("name: at most %d bytes", MaxGroupNameBytes)
	}
	return checkText("name", name)
}

// GroupCreated opens a group; its creator is its first member, an admin.
type GroupCreated struct {
	GroupID   string `json:"groupId"`
	Name      string `json:"name"`
	CreatedBy string `json:"createdBy"`
}

func (*GroupCreated) EventType() Type   { return TypeGroupCreated }
func (e *GroupCreated) scopeID() string { return e.GroupID }
func (e *GroupCreated) Validate() error {
	if err := checkIDs("groupId", e.GroupID, "createdBy", e.CreatedBy); err != nil {
		return err
	}
	return CheckGroupName(e.Name)
}

// GroupUpdated renames a group (admins).
type GroupUpdated struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
	By      string `json:"by"`
}

func (*GroupUpdated) EventType() Type   { return TypeGroupUpdated }
func (e *GroupUpdated) scopeID() string { return e.GroupID }
func (e *GroupUpdated) Validate() error {
	if err := checkIDs("groupId", e.GroupID, "by", e.By); err != nil {
		return err
	}
	return CheckGroupName(e.Name)
}

// GroupJoinRequested: a user who is not a member asks to join. It stays
// pending until an admin adds them (GroupMemberJoined) or refuses.
type GroupJoinRequested struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
}

func (*GroupJoinRequested) EventType() Type   { return TypeGroupJoinRequested }
func (e *GroupJoinRequested) scopeID() string { return e.GroupID }
func (e *GroupJoinRequested) Validate() error {
	return checkIDs("groupId", e.GroupID, "userId", e.UserID)
}

// GroupJoinRefused ends a pending request without adding its user.
type GroupJoinRefused struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
	By      string `json:"by"`
}

func (*GroupJoinRefused) EventType() Type   { return TypeGroupJoinRefused }
func (e *GroupJoinRefused) scopeID() string { return e.GroupID }
func (e *GroupJoinRefused) Validate() error {
	return checkIDs("groupId", e.GroupID, "userId", e.UserID, "by", e.By)
}

// GroupMemberJoined adds a member, or changes a member's role. An admin
// adding a user with a pending request accepts it.
type GroupMemberJoined struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
	Role    Role   `json:"role"`
	By      string `json:"by"`
}

func (*GroupMemberJoined) EventType() Type   { return TypeGroupMemberJoined }
func (e *GroupMemberJoined) scopeID() string { return e.GroupID }
func (e *GroupMemberJoined) Validate() error {
	if err := checkIDs("groupId", e.GroupID, "userId", e.UserID, "by", e.By); err != nil {
		return err
	}
	if !ValidGroupRole(e.Role) {
		return fmt.Errorf("role: %q is not a group role (admin, member)", e.Role)
	}
	return nil
}

// GroupMemberLeft removes a member: they left, or an admin removed them.
type GroupMemberLeft struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
	By      string `json:"by"`
}

func (*GroupMemberLeft) EventType() Type   { return TypeGroupMemberLeft }
func (e *GroupMemberLeft) scopeID() string { return e.GroupID }
func (e *GroupMemberLeft) Validate() error {
	return checkIDs("groupId", e.GroupID, "userId", e.UserID, "by", e.By)
}

// GroupID is the id of the group creator asks for with key (the request's
// Idempotency-Key): derived, so the same creation retried, however late,
// names the same group.
func GroupID(app, creator, key string) string {
	return "g" + digest("group", app, creator, key)
}

// NewGroupID returns a fresh random group id, for a creation without key.
func NewGroupID() string { return "g" + NewConversationID()[1:] }

// GroupTypes are the group events, for consumers that ignore them all.
var GroupTypes = []Type{TypeGroupCreated, TypeGroupUpdated, TypeGroupJoinRequested, TypeGroupJoinRefused,
	TypeGroupMemberJoined, TypeGroupMemberLeft}
