package roster

import (
	"slices"

	"github.com/chatbackend/chat/events"
)

// Group is the routing view of one group (team): who receives its events
// and shares presence.
type Group struct {
	Name    string
	Members map[string]events.Role
	// Requests are the pending join requests: who is told of an answer.
	Requests map[string]bool
}

// Admins lists the group's admins, sorted.
func (g *Group) Admins() []string {
	var out []string
	for id, role := range g.Members {
		if role == events.RoleAdmin {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// IsMember reports whether user belongs to the group.
func (g *Group) IsMember(user string) bool {
	_, ok := g.Members[user]
	return ok
}

// MemberIDs lists the members, sorted.
func (g *Group) MemberIDs() []string {
	out := make([]string, 0, len(g.Members))
	for id := range g.Members {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

type userKey struct{ app, user string }

// groups holds every group and, per user, the groups they belong to: a
// user's presence goes to their groups' members without a scan.
type groups struct {
	byID   map[Key]*Group
	ofUser map[userKey]map[string]struct{}
}

func newGroups() groups {
	return groups{byID: map[Key]*Group{}, ofUser: map[userKey]map[string]struct{}{}}
}

// Group returns a group, or nil when the log has not created it.
func (r *Roster) Group(app, id string) *Group { return r.groups.byID[Key{app, id}] }

// GroupsOf lists the groups user belongs to, in no particular order.
func (r *Roster) GroupsOf(app, user string) []string {
	in := r.groups.ofUser[userKey{app, user}]
	out := make([]string, 0, len(in))
	for g := range in {
		out = append(out, g)
	}
	return out
}

func (r *Roster) addGroupMember(app, id string, g *Group, user string, role events.Role) {
	g.Members[user] = role
	k := userKey{app, user}
	if r.groups.ofUser[k] == nil {
		r.groups.ofUser[k] = map[string]struct{}{}
	}
	r.groups.ofUser[k][id] = struct{}{}
}

func (r *Roster) groupCreated(e *events.Envelope, p *events.GroupCreated) error {
	k := Key{e.App, p.GroupID}
	if r.groups.byID[k] != nil {
		return nil // created once; a repeat changes nothing
	}
	g := &Group{Name: p.Name, Members: map[string]events.Role{}, Requests: map[string]bool{}}
	r.groups.byID[k] = g
	r.addGroupMember(e.App, p.GroupID, g, p.CreatedBy, events.RoleAdmin)
	return nil
}

func (r *Roster) groupUpdated(e *events.Envelope, p *events.GroupUpdated) error {
	if g := r.groups.byID[Key{e.App, p.GroupID}]; g != nil {
		g.Name = p.Name
	}
	return nil
}

func (r *Roster) groupMemberJoined(e *events.Envelope, p *events.GroupMemberJoined) error {
	if g := r.groups.byID[Key{e.App, p.GroupID}]; g != nil {
		r.addGroupMember(e.App, p.GroupID, g, p.UserID, p.Role)
		delete(g.Requests, p.UserID) // accepted
	}
	return nil
}

func (r *Roster) groupJoinRequested(e *events.Envelope, p *events.GroupJoinRequested) error {
	if g := r.groups.byID[Key{e.App, p.GroupID}]; g != nil && !g.IsMember(p.UserID) {
		g.Requests[p.UserID] = true
	}
	return nil
}

func (r *Roster) groupJoinRefused(e *events.Envelope, p *events.GroupJoinRefused) error {
	if g := r.groups.byID[Key{e.App, p.GroupID}]; g != nil {
		delete(g.Requests, p.UserID)
	}
	return nil
}

func (r *Roster) groupMemberLeft(e *events.Envelope, p *events.GroupMemberLeft) error {
	g := r.groups.byID[Key{e.App, p.GroupID}]
	if g == nil {
		return nil
	}
	delete(g.Members, p.UserID)
	k := userKey{e.App, p.UserID}
	delete(r.groups.ofUser[k], p.GroupID)
	if len(r.groups.ofUser[k]) == 0 {
		delete(r.groups.ofUser, k)
	}
	return nil
}
