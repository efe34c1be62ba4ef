package projections

import (
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/sql/db"
)

// changes is the net effect of a run of events on the tables, folded in
// memory so a batch becomes a few bulk statements in a fixed order. Folding
// is exact: a member who joins and leaves in one batch ends up absent, a
// message posted and moderated in one batch is inserted with its decision.
type changes struct {
	conversations []db.InsertConversationParams
	members       map[memberKey]*db.UpsertParticipantParams // nil value: removed
	memberOrder   []memberKey
	messages      []db.InsertMessageParams
	messageIndex  map[msgKey]int
	moderations   []db.ModerateMessageParams
	touches       map[msgKey]db.TouchConversationParams // by app/conversation
}

type memberKey struct{ app, conv, user string }
type msgKey struct{ app, id string }

func newChanges() *changes {
	return &changes{
		members:      map[memberKey]*db.UpsertParticipantParams{},
		messageIndex: map[msgKey]int{},
		touches:      map[msgKey]db.TouchConversationParams{},
	}
}

// add folds one event. Events the read model does not track are ignored.
func (c *changes) add(e *events.Envelope) {
	p, err := e.Payload()
	if err != nil {
		return
	}
	seq := int64(e.Seq)
	switch p := p.(type) {
	case *events.ConversationCreated:
		c.conversations = append(c.conversations, db.InsertConversationParams{
			App: e.App, ID: p.ConversationID, Kind: string(p.Kind), Title: p.Title,
			ReplyPermission: string(p.ReplyPermission), CreatedBy: p.CreatedBy, CreatedAt: e.At, CreatedSeq: seq,
		})
		for _, m := range p.Members {
			c.setMember(memberKey{e.App, p.ConversationID, m.UserID}, &db.UpsertParticipantParams{
				App: e.App, ConversationID: p.ConversationID, UserID: m.UserID, Role: string(m.Role), JoinedAt: e.At, JoinedSeq: seq,
			})
		}
	case *events.MemberJoined:
		c.setMember(memberKey{e.App, p.ConversationID, p.UserID}, &db.UpsertParticipantParams{
			App: e.App, ConversationID: p.ConversationID, UserID: p.UserID, Role: string(p.Role), JoinedAt: e.At, JoinedSeq: seq,
		})
	case *events.MemberLeft:
		c.setMember(memberKey{e.App, p.ConversationID, p.UserID}, nil)
	case *events.MessagePosted:
		k := msgKey{e.App, p.MessageID}
		if _, dup := c.messageIndex[k]; dup {
			return
		}
		c.messageIndex[k] = len(c.messages)
		c.messages = append(c.messages, db.InsertMessageParams{
			App: e.App, ID: p.MessageID, ConversationID: p.ConversationID, ClientMsgID: p.ClientMsgID,
			SenderID: p.SenderID, SenderType: string(p.SenderType), Content: p.Content, ContentType: string(p.ContentType),
			AttachmentID: optional(p.AttachmentID), ReplyTo: optional(p.ReplyTo), CreatedAt: e.At, Seq: seq,
			ModerationStatus: string(events.StatusPending),
		})
	case *events.MessageModerated:
		reason := optional(p.Reason)
		if i, ok := c.messageIndex[msgKey{e.App, p.MessageID}]; ok {
			m := &c.messages[i]
			if m.ModeratedSeq == nil { // the first decision stands
				m.ModerationStatus, m.ModerationReason, m.ModeratedSeq = string(p.Status), reason, &seq
			}
		} else {
			c.moderations = append(c.moderations, db.ModerateMessageParams{
				App: e.App, ID: p.MessageID, ModerationStatus: string(p.Status), ModerationReason: reason, ModeratedSeq: &seq,
			})
		}
		if p.Status == events.StatusApproved {
			c.touches[msgKey{e.App, p.ConversationID}] = db.TouchConversationParams{
				App: e.App, ID: p.ConversationID, LastMessageSeq: int64(p.PostedSeq), LastActivityAt: e.At,
			}
		}
	}
}

func (c *changes) setMember(k memberKey, v *db.UpsertParticipantParams) {
	if _, seen := c.members[k]; !seen {
		c.memberOrder = append(c.memberOrder, k)
	}
	c.members[k] = v
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
