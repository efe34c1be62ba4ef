package fanout

import (
	"slices"

	"github.com/chatbackend/chat/events"
)

// room is the leak model's groups and user room, written from the
// contract: group.* to the members at the position (a joiner hears of
// their joining, a leaver of their leaving), notification.new to whom an
// event concerns unless their settings then say no, settings.changed and
// notifications.read to the user alone.
type room struct {
	groups   map[string]map[string]events.Role
	requests map[string]map[string]bool
	settings map[string]events.UserSettings
}

func newRoom() room {
	return room{groups: map[string]map[string]events.Role{}, requests: map[string]map[string]bool{},
		settings: map[string]events.UserSettings{}}
}

// scopeMembers are the members of the conversation or group p is about.
func (m *leakModel) scopeMembers(p events.Payload) map[string]events.Role {
	switch p := p.(type) {
	case *events.GroupCreated:
		return m.groups[p.GroupID]
	case *events.GroupUpdated:
		return m.groups[p.GroupID]
	case *events.GroupMemberJoined:
		return m.groups[p.GroupID]
	case *events.GroupMemberLeft:
		return m.groups[p.GroupID]
	}
	return m.members[conversationOf(p)]
}

func members(ms map[string]events.Role) []string {
	var out []string
	for u := range ms {
		out = append(out, u)
	}
	return out
}

// notified entitles user to a notification unless their settings say no.
func (m *leakModel) notified(seq uint64, user, conv string) {
	if set, ok := m.settings[user]; ok && (!set.Notifications.Enabled || slices.Contains(set.MutedConversations, conv)) {
		return
	}
	m.entitle("notification.new", seq, user)
}

func (m *leakModel) foldRoom(e *events.Envelope, p events.Payload) {
	switch p := p.(type) {
	case *events.GroupCreated:
		if m.groups[p.GroupID] != nil {
			return
		}
		m.groups[p.GroupID] = map[string]events.Role{p.CreatedBy: events.RoleAdmin}
		m.requests[p.GroupID] = map[string]bool{}
		m.entitle("group.created", e.Seq, p.CreatedBy)
	case *events.GroupUpdated:
		m.entitle("group.updated", e.Seq, members(m.groups[p.GroupID])...)
	case *events.GroupJoinRequested:
		g := m.groups[p.GroupID]
		if _, member := g[p.UserID]; g == nil || member || m.requests[p.GroupID][p.UserID] {
			return
		}
		m.requests[p.GroupID][p.UserID] = true
		for u, role := range g {
			if role == events.RoleAdmin {
				m.notified(e.Seq, u, "")
			}
		}
	case *events.GroupJoinRefused:
		if !m.requests[p.GroupID][p.UserID] {
			return
		}
		delete(m.requests[p.GroupID], p.UserID)
		m.notified(e.Seq, p.UserID, "")
	case *events.GroupMemberJoined:
		g := m.groups[p.GroupID]
		role, member := g[p.UserID]
		if g == nil || member && role == p.Role {
			return
		}
		g[p.UserID] = p.Role
		delete(m.requests[p.GroupID], p.UserID)
		m.entitle("group.member_joined", e.Seq, members(g)...)
		if !member && p.UserID != p.By {
			m.notified(e.Seq, p.UserID, "")
		}
	case *events.GroupMemberLeft:
		g := m.groups[p.GroupID]
		if _, member := g[p.UserID]; !member {
			return
		}
		m.entitle("group.member_left", e.Seq, members(g)...)
		delete(g, p.UserID)
	case *events.SettingsChanged:
		m.settings[p.UserID] = p.Settings
		m.entitle("settings.changed", e.Seq, p.UserID)
	case *events.NotificationsRead:
		m.entitle("notifications.read", e.Seq, p.UserID)
	}
}
