package roster

import "github.com/chatbackend/chat/events"

// converted gives a visitor's place to the client it became: same role,
// and the conversation counts the client as its creator where the visitor
// was, so the reply rules treat the client as they treated the visitor.
func (r *Roster) converted(e *events.Envelope, p *events.AnonymousConverted) error {
	c := r.convs[Key{e.App, p.ConversationID}]
	if c == nil {
		return nil
	}
	role, ok := c.Members[p.AnonymousID]
	if !ok {
		return nil // converted before: a repeat
	}
	delete(c.Members, p.AnonymousID)
	c.Members[p.UserID] = role
	if c.CreatedBy == p.AnonymousID {
		c.CreatedBy = p.UserID
	}
	return nil
}
