package fanout

import (
	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
)

// converted tells the members after a conversion (the professional and the
// client, never the visitor, whose token no longer works) that the
// conversation is now the client's.
func (s *Service) converted(e *events.Envelope, p *events.AnonymousConverted) error {
	c := s.roster.Get(e.App, p.ConversationID)
	if c == nil || !c.IsMember(p.AnonymousID) {
		return nil // no such conversation, or converted before: a repeat
	}
	if err := s.apply(e); err != nil {
		return err
	}
	s.send(e, c.MemberIDs(), bridge.KindConversations, "conversation.updated", wire.Converted(c, p))
	return nil
}
