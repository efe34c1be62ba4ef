package fanout

import (
	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
)

// announcementTargeted makes a part's recipients members of the
// announcement's conversation and tells each of them announcement.new on
// their own topic: one payload encoded once, sent over every CPU (sendAll).
// Recipients who were members already (a repeat of the part) are not told
// again.
func (s *Service) announcementTargeted(e *events.Envelope, p *events.AnnouncementTargeted) error {
	c := s.roster.Get(e.App, p.ConversationID)
	if c == nil {
		return nil // no such conversation: the roster ignores it too
	}
	fresh := make([]string, 0, len(p.Recipients))
	for _, u := range p.Recipients {
		if !c.IsMember(u) {
			fresh = append(fresh, u)
		}
	}
	if err := s.apply(e); err != nil {
		return err
	}
	s.send(e, fresh, bridge.KindAnnouncements, "announcement.new", wire.AnnouncementFromEvent(p))
	return nil
}
