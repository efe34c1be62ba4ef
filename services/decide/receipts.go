package decide

import (
	"context"
	"slices"
	"time"

	"github.com/chatbackend/chat/events"
)

// ReceiptCommand is a member's read or delivered receipt: "everything up to
// and including MessageID" of ConversationID.
type ReceiptCommand struct {
	App            string
	Actor          events.Actor
	ConversationID string
	MessageID      string
	// Read: a read receipt; otherwise a delivery receipt.
	Read bool
	At   time.Time
}

// Receipt decides and appends a receipt at the conversation's position. A
// receipt that moves nothing forward (a repeat, or an older one after a
// newer) appends nothing and succeeds.
func (ms *Messages) Receipt(ctx context.Context, c ReceiptCommand) (Outcome, error) {
	return ms.Decider.Decide(ctx, c.App, c.ConversationID, func(s *State) ([]*events.Envelope, error) {
		var p events.Payload
		var kind string
		if c.Read {
			r, err := ReadUpTo(s, c.Actor.ID, c.MessageID)
			if r == nil || err != nil {
				return nil, err
			}
			p, kind = r, "read"
		} else {
			r, err := DeliveredUpTo(s, c.Actor.ID, c.MessageID)
			if r == nil || err != nil {
				return nil, err
			}
			p, kind = r, "delivered"
		}
		return decided(events.ReceiptID(kind, c.App, c.Actor.ID, c.ConversationID, c.MessageID), c.App, c.At, c.Actor, p)
	})
}

// ReadUpTo decides the actor's having read everything up to and including
// messageID: nil when it changes nothing (the actor has read that far
// already), or why not.
func ReadUpTo(s *State, actor, messageID string) (*events.ReadReceipt, error) {
	r, err := receipt(s, actor, messageID, s.read[actor])
	if r == nil || err != nil {
		return nil, err
	}
	return &events.ReadReceipt{Receipt: *r}, nil
}

// DeliveredUpTo decides the actor's having received everything up to and
// including messageID. What the actor has read was received too: a delivery
// receipt at or before their read position changes nothing, so a sender
// sees delivered before read and never after.
func DeliveredUpTo(s *State, actor, messageID string) (*events.DeliveryReceipt, error) {
	r, err := receipt(s, actor, messageID, max(s.delivered[actor], s.read[actor]))
	if r == nil || err != nil {
		return nil, err
	}
	return &events.DeliveryReceipt{Receipt: *r}, nil
}

// receipt is the receipt moving the actor, a member, from position from to
// messageID's, when that is forward. The message must be one of the
// conversation the actor can see: approved, or their own.
func receipt(s *State, actor, messageID string, from uint64) (*events.Receipt, error) {
	c := s.Conversation()
	if c == nil {
		return nil, refuse(CodeNotFound, "no such conversation")
	}
	if !c.IsMember(actor) {
		return nil, refuse(CodeNotMember, "you are not a member of this conversation")
	}
	// The record itself, not a Message: a receipt comes for every message
	// delivered, and needs only its status, sender and position.
	ps := &s.msgs
	m := ps.find(s.App, messageID)
	if m == nil || ps.status(m) != events.StatusApproved && ps.senderID(m) != actor {
		return nil, refuse(CodeNotFound, "no such message in this conversation")
	}
	if m.postedSeq <= from {
		return nil, nil // a repeat, or older than what the actor already acknowledged
	}
	return &events.Receipt{ConversationID: s.ID, UserID: actor, MessageID: messageID, MessageSeq: m.postedSeq,
		Senders: s.senders(actor, from, m.postedSeq)}, nil
}

// senders lists, sorted and each once, the senders other than actor of the
// approved messages at positions after from and up to to.
func (s *State) senders(actor string, from, to uint64) []string {
	var out []string
	seen := map[string]bool{actor: true}
	ps := &s.msgs
	for i := ps.from(from); i < len(ps.recs) && ps.recs[i].postedSeq <= to; i++ {
		m := &ps.recs[i]
		if sender := ps.senderID(m); ps.status(m) == events.StatusApproved && !seen[sender] {
			seen[sender] = true
			out = append(out, sender)
		}
	}
	slices.Sort(out)
	return out
}
