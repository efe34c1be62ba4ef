// Package moderation decides every posted message: membership and reply
// permission at the message's position in the log, then the application's
// automatic rules in force there (rules are events too), with what they
// remember of the sender in event time. Decisions depend only on the log, so
// a replay reproduces them (DESIGN invariant 6).
package moderation

import (
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Decision is the outcome for one message.
type Decision struct {
	Status events.ModerationStatus
	Reason string
}

// Decide is the pure rule: conv is the conversation as of the message's
// position (nil when it does not exist), rules the application's rules in
// force there, sender what they remember of the sender, at the event's
// time.
func Decide(rules *Rules, sender *Sender, conv *roster.Conversation, m *events.MessagePosted, at time.Time) Decision {
	if conv == nil {
		return Decision{events.StatusRejected, events.ReasonNotMember}
	}
	if ok, reason := conv.CanPost(m.SenderID); !ok {
		return Decision{events.StatusRejected, reason}
	}
	return rules.Check(sender, m, at)
}

// DecideReply refines an approval of a reply: replyTo must name a message
// posted in the same conversation. repliedIn is the conversation the named
// message was posted in, nil when the log holds no message of that id.
func DecideReply(d Decision, conv, repliedIn *roster.Conversation, m *events.MessagePosted) Decision {
	if d.Status != events.StatusApproved || m.ReplyTo == "" {
		return d
	}
	if repliedIn == nil || repliedIn != conv {
		return Decision{events.StatusRejected, events.ReasonReplyNotFound}
	}
	return d
}
