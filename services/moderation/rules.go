// Package moderation decides every posted message: membership and reply
// permission at the message's position in the log, then the application's
// automatic rules. Decisions depend only on the log and the configuration, so a
// replay reproduces them (DESIGN invariant 6).
package moderation

import (
	"strings"
	"unicode"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/roster"
)

// Decision is the outcome for one message.
type Decision struct {
	Status events.ModerationStatus
	Reason string
}

// Decide is the pure rule: conv is the conversation as of the message's
// position (nil when it does not exist).
func Decide(app *config.App, conv *roster.Conversation, m *events.MessagePosted) Decision {
	if conv == nil {
		return Decision{events.StatusRejected, events.ReasonNotMember}
	}
	if ok, reason := conv.CanPost(m.SenderID); !ok {
		return Decision{events.StatusRejected, reason}
	}
	if app != nil && app.Moderation.Enabled && containsBadWord(m.Content, app.Moderation.BadWords) {
		return Decision{events.StatusRejected, events.ReasonBadWords}
	}
	return Decision{Status: events.StatusApproved}
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

// containsBadWord matches whole words, case-insensitively, so "Scunthorpe"
// style substrings do not trip the filter.
func containsBadWord(content string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(content), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		for _, bad := range words {
			if w == bad {
				return true
			}
		}
	}
	return false
}
