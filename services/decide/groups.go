package decide

import (
	"slices"

	"github.com/chatbackend/chat/events"
)

// GroupState is one group (team) as of position Pos of the log, folded from
// its own events (chat.evt.{app}.group.{id}.>) in log order: what the
// command side needs to decide a command about it.
type GroupState struct {
	App, ID string
	// Pos is the stream sequence of the last group event folded.
	Pos       uint64
	Created   bool
	Name      string
	CreatedBy string
	Members   map[string]events.Role
	// Requests are the pending join requests, by user.
	Requests map[string]bool
}

// NewGroupState returns the state of a group before its first event.
func NewGroupState(app, id string) *GroupState {
	return &GroupState{App: app, ID: id, Members: map[string]events.Role{}, Requests: map[string]bool{}}
}

// groupFolds declares what each group event changes. Only a group's own
// subjects are folded into its state, so every other type is left alone.
var groupFolds = func() *events.Router[*GroupState] {
	r := events.NewRouter[*GroupState]("decide-groups")
	events.On(r, (*GroupState).created)
	events.On(r, (*GroupState).updated)
	events.On(r, (*GroupState).requested)
	events.On(r, (*GroupState).refused)
	events.On(r, (*GroupState).joined)
	events.On(r, (*GroupState).left)
	for _, t := range events.Types {
		if !slices.Contains(events.GroupTypes, t) {
			r.Ignore(t)
		}
	}
	return r
}()

// Apply folds one event of the group at its position. Events of other
// groups or applications, and those before the group's creation, change
// nothing but the position.
func (g *GroupState) Apply(e *events.Envelope) error {
	g.Pos = max(g.Pos, e.Seq)
	if e.App != g.App || !g.Created && e.Type != events.TypeGroupCreated {
		return nil
	}
	return groupFolds.Handle(g, e)
}

func (g *GroupState) created(_ *events.Envelope, p *events.GroupCreated) error {
	if p.GroupID == g.ID && !g.Created {
		g.Created, g.Name, g.CreatedBy = true, p.Name, p.CreatedBy
		g.Members[p.CreatedBy] = events.RoleAdmin
	}
	return nil
}

func (g *GroupState) updated(_ *events.Envelope, p *events.GroupUpdated) error {
	if p.GroupID == g.ID {
		g.Name = p.Name
	}
	return nil
}

func (g *GroupState) requested(_ *events.Envelope, p *events.GroupJoinRequested) error {
	if p.GroupID == g.ID && !g.IsMember(p.UserID) {
		g.Requests[p.UserID] = true
	}
	return nil
}

func (g *GroupState) refused(_ *events.Envelope, p *events.GroupJoinRefused) error {
	if p.GroupID == g.ID {
		delete(g.Requests, p.UserID)
	}
	return nil
}

func (g *GroupState) joined(_ *events.Envelope, p *events.GroupMemberJoined) error {
	if p.GroupID == g.ID {
		g.Members[p.UserID] = p.Role
		delete(g.Requests, p.UserID) // an accepted request
	}
	return nil
}

func (g *GroupState) left(_ *events.Envelope, p *events.GroupMemberLeft) error {
	if p.GroupID == g.ID {
		delete(g.Members, p.UserID)
	}
	return nil
}

// IsMember reports whether user belongs to the group.
func (g *GroupState) IsMember(user string) bool {
	_, ok := g.Members[user]
	return ok
}

// admins counts the group's admins.
func (g *GroupState) admins() int {
	n := 0
	for _, r := range g.Members {
		if r == events.RoleAdmin {
			n++
		}
	}
	return n
}

// The rules: one pure function per group command. A refusal appends
// nothing; a command that changes nothing (a repeat) returns false or nil.

// groupMember is the actor's role in an existing group.
func groupMember(g *GroupState, actor string) (events.Role, *Refusal) {
	if !g.Created {
		return "", refuse(CodeNotFound, "no such group")
	}
	role, ok := g.Members[actor]
	if !ok {
		return "", refuse(CodeNotMember, "you are not a member of this group")
	}
	return role, nil
}

// groupAdmin refuses an actor who is not an admin of the group.
func groupAdmin(g *GroupState, actor, what string) *Refusal {
	role, r := groupMember(g, actor)
	if r != nil {
		return r
	}
	if role != events.RoleAdmin {
		return refuse(CodeForbidden, "only group admins %s", what)
	}
	return nil
}

// CreateGroup decides the actor's creating the group: true when it is new;
// false when the actor created it already (a retry); a conflict when the id
// is someone else's.
func CreateGroup(g *GroupState, actor string) (bool, error) {
	if !g.Created {
		return true, nil
	}
	if g.CreatedBy != actor {
		return false, refuse(CodeConflict, "the group exists already")
	}
	return false, nil
}

// RenameGroup decides an admin's renaming the group: false when the name is
// the same.
func RenameGroup(g *GroupState, actor, name string) (bool, error) {
	if r := groupAdmin(g, actor, "rename the group"); r != nil {
		return false, r
	}
	return g.Name != name, nil
}

// RequestToJoin decides the actor's asking to join: anyone of the
// application who is not a member; false when the request is pending
// already.
func RequestToJoin(g *GroupState, actor string) (bool, error) {
	if !g.Created {
		return false, refuse(CodeNotFound, "no such group")
	}
	if g.IsMember(actor) {
		return false, refuse(CodeConflict, "you are a member of this group already")
	}
	return !g.Requests[actor], nil
}

// AddGroupMember decides an admin's adding user with role (accepting their
// request, if any): false when user is a member with that role already. A
// group holds at most max members, and keeps an admin while it has members.
func AddGroupMember(g *GroupState, actor, user string, role events.Role, max int) (bool, error) {
	if r := groupAdmin(g, actor, "add members"); r != nil {
		return false, r
	}
	have, member := g.Members[user]
	switch {
	case member && have == role:
		return false, nil
	case !member && len(g.Members)+1 > max:
		return false, refuse(CodeInvalidPayload, "a group has at most %d members", max)
	case have == events.RoleAdmin && g.admins() == 1:
		return false, refuse(CodeConflict, "the group's last admin names another admin first")
	}
	return true, nil
}

// RefuseJoin decides an admin's refusing user's pending request.
func RefuseJoin(g *GroupState, actor, user string) error {
	if r := groupAdmin(g, actor, "answer join requests"); r != nil {
		return r
	}
	if !g.Requests[user] {
		return refuse(CodeNotFound, "%s has no pending request", user)
	}
	return nil
}

// RemoveGroupMember decides the actor's removing target: a member leaves,
// an admin removes anyone. The last admin leaves only alone, or after
// naming another admin.
func RemoveGroupMember(g *GroupState, actor, target string) error {
	role, r := groupMember(g, actor)
	if r != nil {
		return r
	}
	if target != actor && role != events.RoleAdmin {
		return refuse(CodeForbidden, "only group admins remove other members")
	}
	have, ok := g.Members[target]
	if !ok {
		return refuse(CodeNotFound, "%s is not a member", target)
	}
	if have == events.RoleAdmin && g.admins() == 1 && len(g.Members) > 1 {
		return refuse(CodeConflict, "the group's last admin names another admin first")
	}
	return nil
}

// GroupConversation is what joining a conversation of a group needs to
// know of the conversation, read from its own log just before.
type GroupConversation struct {
	Exists  bool
	Group   string // the group it belongs to, if any
	Member  bool   // the actor is in it already
	Members int
}

// ConversationFacts reads them from a conversation's state.
func ConversationFacts(s *State, actor string) GroupConversation {
	c := s.Conversation()
	if c == nil {
		return GroupConversation{}
	}
	return GroupConversation{Exists: true, Group: s.Group, Member: c.IsMember(actor), Members: len(c.Members)}
}

// JoinGroupConversation decides the actor's joining a conversation of the
// group: members of the group may, while it has room (max); false when
// they are in it already.
func JoinGroupConversation(g *GroupState, c GroupConversation, actor string, max int) (bool, error) {
	if _, r := groupMember(g, actor); r != nil {
		return false, r
	}
	switch {
	case !c.Exists || c.Group != g.ID:
		return false, refuse(CodeNotFound, "no such conversation in this group")
	case c.Member:
		return false, nil
	case c.Members+1 > max:
		return false, refuse(CodeInvalidPayload, "a conversation has at most %d members", max)
	}
	return true, nil
}

// CreateGroupConversation decides the actor's creating a conversation in
// the group: members of the group may.
func CreateGroupConversation(g *GroupState, actor string) error {
	_, r := groupMember(g, actor)
	if r != nil {
		return r
	}
	return nil
}
