package projections

import (
	"slices"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// rewrites reports whether e changes rows written before it: its effect
// must follow the rows of the events before it and precede those after it,
// so Apply writes what it folded so far and starts afresh with e. A replay
// in batches of any size then writes the same rows.
func rewrites(e *events.Envelope) bool { return e.Type == events.TypeAnonymousConverted }

// next is the changes that follow c's in the same batch, after a rewrite.
func (c *changes) next() *changes {
	n := newChanges(c.known, c.roster, c.apps)
	n.earlier, n.lastDeferred = append(slices.Clip(c.earlier), c), c.lastDeferred
	return n
}

// converted makes the visitor's rows the client's (see ConvertVisitor) and
// records the conversation.updated the members after it received.
func (c *changes) converted(e *events.Envelope, p *events.AnonymousConverted) error {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil || !conv.IsMember(p.AnonymousID) {
		return nil // no such conversation, or converted before: a repeat
	}
	c.conversions = append(c.conversions, db.ConvertVisitorParams{App: e.App, ConversationID: p.ConversationID,
		AnonymousID: p.AnonymousID, UserID: p.UserID, Seq: int64(e.Seq)})
	_ = c.roster.Apply(e)
	c.addFeed(e, p.ConversationID, "conversation.updated", nil, wire.Converted(conv, p), roster.Audience{All: true})
	return nil
}

// transferred records the conversation.updated the members after a
// transfer received.
func (c *changes) transferred(e *events.Envelope, p *events.ConversationTransferred) error {
	if conv := c.roster.Get(e.App, p.ConversationID); conv != nil {
		c.addFeed(e, p.ConversationID, "conversation.updated", nil, wire.Transferred(conv, p), roster.Audience{All: true})
	}
	return nil
}
