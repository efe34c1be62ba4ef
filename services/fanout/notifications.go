package fanout

import (
	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
)

// The user room's notification records: notification.new on the user's
// notifications topic when something concerns them, decided from the log
// alone (the projector records the same ones, projections/notifications.go).
// A user whose notifications are off gets none; a muted conversation
// makes none.

type userKey struct{ app, user string }

// notify sends n to user unless their settings at this position say not to.
func (s *Service) notify(e *events.Envelope, user, conv string, n wire.Notification) {
	if set, ok := s.settings[userKey{e.App, user}]; ok && (!set.Notifications.Enabled || conv != "" && set.Muted(conv)) {
		return
	}
	s.send(e, []string{user}, bridge.KindNotifications, "notification.new", n)
}

// newcomer reports whether p adds someone not in the conversation c (by
// someone else): they are told they were added.
func newcomer(c *roster.Conversation, p *events.MemberJoined) bool {
	return c != nil && !c.IsMember(p.UserID) && p.UserID != p.AddedBy
}

// notifyCreated tells the members a new conversation's creator added.
func (s *Service) notifyCreated(e *events.Envelope, p *events.ConversationCreated) {
	for _, m := range p.Members {
		if m.UserID != p.CreatedBy {
			s.notify(e, m.UserID, p.ConversationID, wire.Notification{Type: wire.NotifyAddedToConversation,
				ConversationID: p.ConversationID, By: p.CreatedBy})
		}
	}
}

func (s *Service) notifyJoined(e *events.Envelope, p *events.MemberJoined) {
	s.notify(e, p.UserID, p.ConversationID, wire.Notification{Type: wire.NotifyAddedToConversation,
		ConversationID: p.ConversationID, By: p.AddedBy})
}

// groupJoined tells a newcomer added by an admin: their request accepted,
// or added without one.
func (s *Service) notifyGroupJoined(e *events.Envelope, g *roster.Group, p *events.GroupMemberJoined, requested bool) {
	typ := wire.NotifyAddedToGroup
	if requested {
		typ = wire.NotifyJoinAccepted
	}
	s.notify(e, p.UserID, "", wire.Notification{Type: typ, GroupID: p.GroupID, Name: g.Name, By: p.By})
}

// groupJoinRequested tells the group's admins of a new request.
func (s *Service) groupJoinRequested(e *events.Envelope, p *events.GroupJoinRequested) error {
	g := s.roster.Group(e.App, p.GroupID)
	if g == nil || g.IsMember(p.UserID) || g.Requests[p.UserID] {
		return nil // no such group, or nothing new
	}
	if err := s.apply(e); err != nil {
		return err
	}
	for _, admin := range g.Admins() {
		s.notify(e, admin, "", wire.Notification{Type: wire.NotifyJoinRequested, GroupID: p.GroupID, Name: g.Name, UserID: p.UserID})
	}
	return nil
}

// groupJoinRefused tells the requester.
func (s *Service) groupJoinRefused(e *events.Envelope, p *events.GroupJoinRefused) error {
	g := s.roster.Group(e.App, p.GroupID)
	if g == nil || !g.Requests[p.UserID] {
		return nil
	}
	if err := s.apply(e); err != nil {
		return err
	}
	s.notify(e, p.UserID, "", wire.Notification{Type: wire.NotifyJoinRefused, GroupID: p.GroupID, Name: g.Name, By: p.By})
	return nil
}

// settingsChanged reaches every device of the user, on their settings
// topic, and decides their notifications from now on.
func (s *Service) settingsChanged(e *events.Envelope, p *events.SettingsChanged) error {
	s.settings[userKey{e.App, p.UserID}] = p.Settings
	s.send(e, []string{p.UserID}, bridge.KindSettings, "settings.changed", p.Settings)
	return nil
}

// notificationsRead tells the user's devices which records are read.
func (s *Service) notificationsRead(e *events.Envelope, p *events.NotificationsRead) error {
	s.send(e, []string{p.UserID}, bridge.KindNotifications, "notifications.read", wire.NotificationsRead{UpTo: p.UpTo})
	return nil
}
