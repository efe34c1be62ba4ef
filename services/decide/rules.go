package decide

import (
	"fmt"
	"strings"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Refusal codes (PROTOCOL §2), the ones decisions give.
const (
	CodeNotFound        = "not_found"
	CodeNotMember       = "not_member"
	CodeForbidden       = "forbidden"
	CodeConflict        = "conflict"
	CodeGone            = "gone"
	CodeInvalidPayload  = "invalid_payload"
	CodeTooLarge        = "too_large"
	CodeReplyNotAllowed = "reply_not_allowed"
	CodeClosed          = roster.CodeClosed
)

// Refusal is a command the state forbids: nothing is appended, the caller
// gets Code (command.rejected over MQTT, the matching status over REST).
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// member is the actor's membership of a conversation whose participants
// can change.
func member(s *State, actor string) (*roster.Conversation, events.Role, *Refusal) {
	c := s.Conversation()
	if c == nil {
		return nil, "", refuse(CodeNotFound, "no such conversation")
	}
	role, ok := c.Members[actor]
	if !ok {
		return nil, "", refuse(CodeNotMember, "you are not a member of this conversation")
	}
	if c.Kind == events.KindOneToOne {
		return nil, "", refuse(CodeConflict, "a one_to_one conversation has fixed participants")
	}
	return c, role, nil
}

// AddMembers decides an admin's adding users with role: the users to add
// (those not already there with that role, in order, each once), or why not.
// A conversation holds at most max members.
func AddMembers(s *State, actor string, users []string, role events.Role, max int) ([]string, error) {
	c, _, r := member(s, actor)
	if r != nil {
		return nil, r
	}
	if r := allowed(c, actor, roster.Administer, "only conversation admins add participants"); r != nil {
		return nil, r
	}
	var add []string
	seen := map[string]bool{}
	newcomers := 0
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		have, ok := c.Members[u]
		if ok && have == role {
			continue // already there with that role: nothing to record
		}
		if !ok {
			newcomers++
		}
		add = append(add, u)
	}
	if role != events.RoleAdmin && losesEveryAdmin(c, add) {
		return nil, refuse(CodeConflict, "that would leave the conversation without an admin: make another participant admin first")
	}
	if len(c.Members)+newcomers > max {
		return nil, refuse(CodeConflict, "a conversation has at most %d members (maxGroupMembers): it has %d, adding %d would exceed it",
			max, len(c.Members), newcomers)
	}
	return add, nil
}

// RemoveMember decides the actor's removing target: a member leaves, an
// admin removes anyone. The last admin of a conversation with other
// members leaves only after making another one admin.
func RemoveMember(s *State, actor, target string) error {
	c, _, r := member(s, actor)
	if r != nil {
		return r
	}
	if target == actor {
		if r := allowed(c, actor, roster.Leave, "you may not leave"); r != nil {
			return r
		}
		if c.Members[actor] == events.RoleAdmin && lastAdmin(c, actor) {
			return refuse(CodeConflict, "you are the last admin: make another participant admin first "+
				"(PUT /conversations/%s/participants/{userId} {\"role\":\"admin\"}), then leave", s.ID)
		}
		return nil
	}
	if r := allowed(c, actor, roster.Administer, "only conversation admins remove other participants"); r != nil {
		return r
	}
	if !c.IsMember(target) {
		return refuse(CodeNotFound, "%s is not a participant", target)
	}
	return nil
}

// message is a message of the conversation the actor, a member, may act
// on: approved, or their own (then refused as conflict while it is not).
// Another's message that members never saw is not found, as are messages
// of other conversations: nothing tells them apart.
func message(s *State, actor, id string) (Message, *Refusal) {
	c := s.Conversation()
	if c == nil {
		return Message{}, refuse(CodeNotFound, "no such message")
	}
	if !c.IsMember(actor) {
		return Message{}, refuse(CodeNotMember, "you are not a member of this conversation")
	}
	m, ok := s.Message(id)
	if !ok || m.Status != events.StatusApproved && m.SenderID != actor {
		return Message{}, refuse(CodeNotFound, "no such message")
	}
	if !m.DeletedAt.IsZero() {
		return Message{}, refuse(CodeGone, "the message was deleted")
	}
	if m.Status != events.StatusApproved {
		return Message{}, refuse(CodeConflict, "the message is %s by moderation", orPending(m.Status))
	}
	return m, nil
}

func orPending(s events.ModerationStatus) events.ModerationStatus {
	if s == "" {
		return events.StatusPending
	}
	return s
}

// CheckContent applies send's rules to new content: not blank, at most max
// bytes. The event's own validation refuses what the read model cannot
// store (NUL, invalid UTF-8).
func CheckContent(content string, max int) error {
	if strings.TrimSpace(content) == "" {
		return refuse(CodeInvalidPayload, "content is empty")
	}
	if len(content) > max {
		return refuse(CodeTooLarge, "content of %d bytes exceeds %d", len(content), max)
	}
	return nil
}

// EditMessage decides the actor's replacing a message's content: only its
// author edits it, while still allowed to post in the conversation, and
// never once it is deleted. clientMsgID is the edit command's id.
func EditMessage(s *State, actor, messageID, clientMsgID, content string) (*events.MessageEdited, error) {
	m, r := message(s, actor, messageID)
	if r != nil {
		return nil, r
	}
	if m.SenderID != actor {
		return nil, refuse(CodeForbidden, "only its author edits a message")
	}
	if r := allowed(s.Conversation(), actor, roster.EditOwn, "you may no longer post in this conversation"); r != nil {
		return nil, r
	}
	return &events.MessageEdited{MessageID: m.ID, ConversationID: s.ID, ClientMsgID: clientMsgID,
		Content: content, Message: m.posting()}, nil
}

// DeleteMessage decides the actor's deleting a message: its author or an
// admin of the conversation may, once.
func DeleteMessage(s *State, actor, messageID, clientMsgID string) (*events.MessageDeleted, error) {
	m, r := message(s, actor, messageID)
	if r != nil {
		return nil, r
	}
	a := roster.DeleteOwn
	if m.SenderID != actor {
		a = roster.DeleteOthers
	}
	if r := allowed(s.Conversation(), actor, a, "only its author or a conversation admin deletes a message"); r != nil {
		return nil, r
	}
	return &events.MessageDeleted{MessageID: m.ID, ConversationID: s.ID, ClientMsgID: clientMsgID,
		DeletedBy: actor, Message: m.posting()}, nil
}

func (m Message) posting() events.Posting {
	return events.Posting{ClientMsgID: m.ClientMsgID, SenderID: m.SenderID, SenderType: m.SenderType,
		ContentType: m.ContentType, AttachmentID: m.Attachment, ReplyTo: m.ReplyTo, PostedAt: m.PostedAt, PostedSeq: m.PostedSeq}
}

// ReviewMessage decides a moderator's review of a message held for it:
// approved, or rejected with reason manual. Only a held message may be
// reviewed, once.
func ReviewMessage(s *State, messageID string, approve bool) (*events.MessageModerated, error) {
	m, ok := s.Message(messageID)
	switch {
	case s.Conversation() == nil || !ok:
		return nil, refuse(CodeNotFound, "no such message")
	case !m.DeletedAt.IsZero():
		return nil, refuse(CodeGone, "the message was deleted")
	case m.Status != events.StatusPending:
		return nil, refuse(CodeConflict, "the message is not held for review: it is %s", m.Status)
	}
	d := &events.MessageModerated{MessageID: m.ID, ConversationID: s.ID, SenderID: m.SenderID, ClientMsgID: m.ClientMsgID,
		Status: events.StatusApproved, PostedSeq: m.PostedSeq}
	if !approve {
		d.Status, d.Reason = events.StatusRejected, events.ReasonManual
	}
	return d, nil
}
