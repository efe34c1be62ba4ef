package decide

import (
	"fmt"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Refusal codes (PROTOCOL §2), the ones decisions give.
const (
	CodeNotFound       = "not_found"
	CodeNotMember      = "not_member"
	CodeForbidden      = "forbidden"
	CodeConflict       = "conflict"
	CodeGone           = "gone"
	CodeInvalidPayload = "invalid_payload"
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
	c, mine, r := member(s, actor)
	if r != nil {
		return nil, r
	}
	if mine != events.RoleAdmin {
		return nil, refuse(CodeForbidden, "only conversation admins add participants")
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
	if len(c.Members)+newcomers > max {
		return nil, refuse(CodeInvalidPayload, "a conversation has at most %d members", max)
	}
	return add, nil
}

// RemoveMember decides the actor's removing target: a member leaves, an
// admin removes anyone.
func RemoveMember(s *State, actor, target string) error {
	c, mine, r := member(s, actor)
	if r != nil {
		return r
	}
	if target != actor && mine != events.RoleAdmin {
		return refuse(CodeForbidden, "only conversation admins remove other participants")
	}
	if !c.IsMember(target) {
		return refuse(CodeNotFound, "%s is not a participant", target)
	}
	return nil
}
