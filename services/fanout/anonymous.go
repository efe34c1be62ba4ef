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
	s.clients[e.App+"/"+p.AnonymousID] = p.UserID
	s.send(e, c.MemberIDs(), bridge.KindConversations, "conversation.updated", wire.Converted(c, p))
	return nil
}

// transferred tells the members after a transfer (the client and the new
// professional; the previous one learnt from its member.left).
func (s *Service) transferred(e *events.Envelope, p *events.ConversationTransferred) error {
	if c := s.roster.Get(e.App, p.ConversationID); c != nil {
		s.send(e, c.MemberIDs(), bridge.KindConversations, "conversation.updated", wire.Transferred(c, p))
	}
	return nil
}

// asClient shows a message a visitor posted before its conversion, decided
// only after it, as the client's: as the read model (and so sync) shows it.
func (s *Service) asClient(app string, m wire.Message) wire.Message {
	if client, ok := s.clients[app+"/"+m.SenderID]; ok {
		m.SenderID, m.SenderType = client, string(events.ActorUser)
	}
	return m
}

// senderOf is who a decision on sender's message goes to: the client a
// converted visitor became, whose message it now is.
func (s *Service) senderOf(app, sender string) string {
	if client, ok := s.clients[app+"/"+sender]; ok {
		return client
	}
	return sender
}
