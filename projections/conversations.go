package projections

import (
	"context"
	"encoding/json"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/wire"
	"github.com/chatbackend/chat/sql/db"
)

// conversationChanges is a batch's effect on conversations beyond their
// creation: admins' changes, each applied in log order (rare, and a closing
// keeps the time of the first), and the position of each conversation's
// newest approved message, by which GET /conversations orders; both after
// the rows they change (conversations, participants, decisions).
type conversationChanges struct {
	updates []db.UpdateConversationParams
	// approvals are those AdvanceLastMessage checks against the rows of
	// messages: the decision named must be the one that stood.
	approvals db.AdvanceLastMessageParams
	// rowApprovals are the live approvals of messages whose row the batch
	// writes: InsertMessages returns the rows as they stand, which tells
	// which of them stood without reading messages again (standing).
	rowApprovals []rowApproval
	// lastStanding holds the approvals known to stand (in replays, those of
	// the messages the batch copies; live, those standing finds): each
	// conversation's newest such message (index in lastStandingIndex).
	lastStanding      db.AdvanceLastMessageToParams
	lastStandingIndex map[msgKey]int // keyed by app and conversation
	// lastDeferred: a fresh rebuild fills every last message once, after
	// its last event (FillLastMessages, recorded with the deferred
	// indexes), so its batches record none.
	lastDeferred bool
}

func (c *changes) conversationUpdated(e *events.Envelope, p *events.ConversationUpdated) error {
	settings := p.Settings
	if settings == nil {
		settings = events.Settings{}
	}
	doc, err := json.Marshal(settings) // keys sorted: a replay writes the same document
	if err != nil {
		return err
	}
	c.updates = append(c.updates, db.UpdateConversationParams{App: e.App, ID: p.ConversationID, Title: p.Title,
		Settings: doc, ReplyPermission: string(p.ReplyPermission), Pinned: p.Pinned, Closed: p.Closed, At: e.At})
	if c.roster.Get(e.App, p.ConversationID) != nil {
		c.addFeed(e, p.ConversationID, "conversation.updated", nil, wire.ConversationUpdated(p), allMembers)
		_ = c.roster.Apply(e)
	}
	return nil
}

// participantUpdated records a participant's role and reply override, on
// the row the batch leaves for them (see memberChange.update).
func (c *changes) participantUpdated(e *events.Envelope, p *events.ParticipantUpdated) error {
	conv := c.roster.Get(e.App, p.ConversationID)
	if conv == nil || !conv.IsMember(p.UserID) {
		return nil // the roster ignores it: no such participant at this position
	}
	mc := c.member(memberKey{e.App, p.ConversationID, p.UserID})
	mc.update = &db.UpdateParticipantParams{App: e.App, ConversationID: p.ConversationID, UserID: p.UserID,
		Role: string(p.Role), CanReply: p.CanReply}
	if mc.join != nil {
		mc.join.role = string(p.Role)
	}
	upTo, _ := c.limits(e.App)
	c.addFeed(e, p.ConversationID, "member.updated", nil, wire.ParticipantUpdated(p), conv.ToldOfMember(p.UserID, upTo))
	c.setRole(e.App, p.ConversationID, p.UserID, p.Role)
	_ = c.roster.Apply(e)
	return nil
}

// approved records an approval, for the conversation's last message
// (whether it is the decision that stood is told by the row the replay
// copies, the row InsertMessages returns, or else AdvanceLastMessage). m is
// the batch's row of the message, if it has one, its decisions folded.
func (c *changes) approved(e *events.Envelope, p *events.MessageModerated, m *messageRow) {
	if p.Status != events.StatusApproved || c.lastDeferred {
		return
	}
	conv := p.ConversationID
	if m != nil {
		conv = m.ConversationID
	}
	if c.roster.Get(e.App, conv) == nil {
		// No conversation at this position: no row to move, whatever
		// batch creates it later (FillLastMessages agrees).
		return
	}
	switch {
	case m != nil && c.known != nil:
		// A replay copies m as it stands: it is the row. An approval that
		// stands now stays (only a hold is ever replaced).
		if m.ModeratedSeq != nil && *m.ModeratedSeq == int64(e.Seq) {
			c.standingApproval(e.App, m.ConversationID, m.Seq)
		}
	case m != nil:
		c.rowApprovals = append(c.rowApprovals, rowApproval{msgKey{e.App, p.MessageID}, int64(e.Seq)})
	default:
		c.checkApproval(e.App, p.MessageID, int64(e.Seq))
	}
}

// rowApproval is an approval (its position) of a message whose row the
// batch writes.
type rowApproval struct {
	msg msgKey
	seq int64
}

// checkApproval leaves it to AdvanceLastMessage whether the approval at seq
// of message id stood.
func (c *changes) checkApproval(app, id string, seq int64) {
	a := &c.approvals
	a.App, a.ID, a.ModeratedSeq = append(a.App, app), append(a.ID, id), append(a.ModeratedSeq, seq)
}

// checkRowApprovals leaves the row approvals to AdvanceLastMessage: the
// batch's messages went through the bulk merge, which returns no rows.
func (c *changes) checkRowApprovals() {
	for _, a := range c.rowApprovals {
		c.checkApproval(a.msg.app, a.msg.id, a.seq)
	}
}

// standing records the row approvals that stood, now that InsertMessages
// wrote the batch's messages: those whose row it returned approved by that
// very decision (a row it did not return kept an earlier one).
func (c *changes) standing(rows []db.InsertMessagesRow) {
	if len(c.rowApprovals) == 0 {
		return
	}
	written := make(map[msgKey]*db.InsertMessagesRow, len(rows))
	for i := range rows {
		written[msgKey{rows[i].App, rows[i].ID}] = &rows[i]
	}
	for _, a := range c.rowApprovals {
		r := written[a.msg]
		if r != nil && r.ModerationStatus == string(events.StatusApproved) && r.ModeratedSeq != nil && *r.ModeratedSeq == a.seq {
			c.standingApproval(r.App, r.ConversationID, r.Seq)
		}
	}
}

// standingApproval keeps the newest approved message of a conversation.
func (c *changes) standingApproval(app, conv string, seq int64) {
	l := &c.lastStanding
	k := msgKey{app, conv}
	if i, ok := c.lastStandingIndex[k]; ok {
		l.Seq[i] = max(l.Seq[i], seq)
		return
	}
	if c.lastStandingIndex == nil {
		c.lastStandingIndex = map[msgKey]int{}
	}
	c.lastStandingIndex[k] = len(l.App)
	l.App, l.ID, l.Seq = append(l.App, app), append(l.ID, conv), append(l.Seq, seq)
}

// writeConversations sends the batch's conversation changes, after the
// conversation and participant rows they change.
func writeConversations(ctx context.Context, q *db.Queries, c *changes, keep func(int, error)) {
	if len(c.updates) > 0 {
		q.UpdateConversation(ctx, c.updates).Exec(keep)
	}
	var ups []db.UpdateParticipantParams
	for _, k := range c.memberOrder {
		if u := c.members[k].update; u != nil {
			ups = append(ups, *u)
		}
	}
	if len(ups) > 0 {
		q.UpdateParticipant(ctx, ups).Exec(keep)
	}
	if len(c.approvals.App) > 0 {
		keep(0, q.AdvanceLastMessage(ctx, c.approvals))
	}
	if len(c.lastStanding.App) > 0 {
		keep(0, q.AdvanceLastMessageTo(ctx, c.lastStanding))
	}
}
