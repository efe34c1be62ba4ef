package roster

import "github.com/chatbackend/chat/events"

// targeted adds an announcement part's recipients to its broadcast
// conversation as members: the conversation's reply permission then says
// whether they may answer. A recipient already there keeps their role.
func (r *Roster) targeted(e *events.Envelope, p *events.AnnouncementTargeted) error {
	c := r.convs[Key{e.App, p.ConversationID}]
	if c == nil {
		return nil
	}
	for _, u := range p.Recipients {
		if _, ok := c.Members[u]; !ok {
			c.Members[u] = events.RoleMember
		}
	}
	return nil
}
