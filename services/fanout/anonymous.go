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
	s.clients[e.App+"/"+p.AnonymousID] = conversion{client: p.UserID, seq: e.Seq}
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

// conversion is the client a visitor became, and where.
type conversion struct {
	client string
	seq    uint64
}

// clientOf is the client a message of sender posted at position posted
// belongs to: the client, for a visitor's message posted before its
// conversion (as the read model, and so sync, shows it), else the sender.
func (s *Service) clientOf(app, sender string, posted uint64) (string, bool) {
	if cv, ok := s.clients[app+"/"+sender]; ok && posted < cv.seq {
		return cv.client, true
	}
	return sender, false
}

// asClient shows a visitor's message posted before its conversion but
// decided only after it as the client's.
func (s *Service) asClient(app string, m wire.Message) wire.Message {
	if client, ok := s.clientOf(app, m.SenderID, m.Seq); ok {
		m.SenderID, m.SenderType = client, string(events.ActorUser)
	}
	return m
}
