package fanout

import (
	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
)

// Group events go to the group's members at the event's position, on their
// conversations topic: a joiner gets their own group.member_joined, a
// leaver their own group.member_left, then nothing more of the group.

func (s *Service) groupCreated(e *events.Envelope, p *events.GroupCreated) error {
	if s.roster.Group(e.App, p.GroupID) != nil {
		return nil // created before: a repeat
	}
	if err := s.apply(e); err != nil {
		return err
	}
	s.send(e, []string{p.CreatedBy}, bridge.KindConversations, "group.created",
		wire.GroupChange{GroupID: p.GroupID, Name: p.Name, By: p.CreatedBy})
	return nil
}

func (s *Service) groupUpdated(e *events.Envelope, p *events.GroupUpdated) error {
	if err := s.apply(e); err != nil {
		return err
	}
	if g := s.roster.Group(e.App, p.GroupID); g != nil {
		s.send(e, g.MemberIDs(), bridge.KindConversations, "group.updated",
			wire.GroupChange{GroupID: p.GroupID, Name: p.Name, By: p.By})
	}
	return nil
}

func (s *Service) groupMemberJoined(e *events.Envelope, p *events.GroupMemberJoined) error {
	g := s.roster.Group(e.App, p.GroupID)
	if g == nil {
		return nil
	}
	role, member := g.Members[p.UserID]
	if member && role == p.Role {
		return nil // already a member with that role: a repeat
	}
	requested := g.Requests[p.UserID]
	if err := s.apply(e); err != nil {
		return err
	}
	s.send(e, g.MemberIDs(), bridge.KindConversations, "group.member_joined",
		wire.GroupChange{GroupID: p.GroupID, Name: g.Name, UserID: p.UserID, Role: string(p.Role), By: p.By})
	if !member && p.UserID != p.By {
		s.notifyGroupJoined(e, g, p, requested)
	}
	return nil
}

func (s *Service) groupMemberLeft(e *events.Envelope, p *events.GroupMemberLeft) error {
	if g := s.roster.Group(e.App, p.GroupID); g != nil && g.IsMember(p.UserID) {
		s.send(e, g.MemberIDs(), bridge.KindConversations, "group.member_left",
			wire.GroupChange{GroupID: p.GroupID, UserID: p.UserID, By: p.By})
	}
	return s.apply(e)
}
