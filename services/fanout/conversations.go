package fanout

import (
	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
)

// conversationUpdated tells every member at the change's position, on
// their conversations topic, what the conversation now is.
func (s *Service) conversationUpdated(e *events.Envelope, p *events.ConversationUpdated) error {
	if err := s.apply(e); err != nil {
		return err
	}
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.MemberIDs(), bridge.KindConversations, "conversation.updated", wire.ConversationUpdated(p))
	}
	return nil
}

// participantUpdated tells those who hear of the conversation's members
// (roster.ToldOfMember) a participant's new role or reply override.
func (s *Service) participantUpdated(e *events.Envelope, p *events.ParticipantUpdated) error {
	c := s.roster.Get(e.App, p.ConversationID)
	if c == nil || !c.IsMember(p.UserID) {
		return nil // the roster ignores it too
	}
	if err := s.apply(e); err != nil {
		return err
	}
	s.send(e, c.ToldOfMember(p.UserID, s.apps[e.App].Limits.MemberEventsUpTo).IDs(c), bridge.KindConversations, "member.updated",
		wire.ParticipantUpdated(p))
	return nil
}
