package decide

import (
	"maps"
	"slices"

	"github.com/chatbackend/chat/events"
)

// Visitor is what decisions need about the anonymous visitor a
// conversation was started by.
type Visitor struct {
	AnonymousID    string
	ProfessionalID string
	// ConvertedTo is the client the visitor became, empty until then.
	ConvertedTo string
}

// Visitor is the conversation's visitor, nil when no visitor started it.
func (s *State) Visitor() *Visitor { return s.visitor }

func (s *State) visitorCreated(_ *events.Envelope, p *events.AnonymousUserCreated) error {
	if p.ConversationID == s.ID && s.visitor == nil {
		s.visitor = &Visitor{AnonymousID: p.AnonymousID, ProfessionalID: p.ProfessionalID}
	}
	return nil
}

// converted makes the visitor's messages and read positions the client's,
// as the read model shows them: a later edit, deletion or receipt names
// the client.
func (s *State) converted(_ *events.Envelope, p *events.AnonymousConverted) error {
	v := s.visitor
	if p.ConversationID != s.ID || v == nil || v.AnonymousID != p.AnonymousID || v.ConvertedTo != "" {
		return nil
	}
	v.ConvertedTo = p.UserID
	ps := &s.msgs
	anon, client, user := ps.word(p.AnonymousID), ps.word(p.UserID), ps.word(string(events.ActorUser))
	for i := range ps.recs {
		if m := &ps.recs[i]; m.sender == anon {
			m.sender, m.senderType = client, user
		}
	}
	for _, pos := range []map[string]uint64{s.read, s.delivered} {
		if n, ok := pos[p.AnonymousID]; ok {
			pos[p.UserID] = n
			delete(pos, p.AnonymousID)
		}
	}
	return nil
}

// StartVisit decides a visitor's POST /anonymous at the position of the
// conversation its id derives from: true when it exists already (the same
// device coming back), or why it may not be used any more.
func StartVisit(s *State, anonymousID string) (bool, error) {
	if s.Conversation() == nil {
		return false, nil
	}
	v := s.visitor
	switch {
	case v == nil || v.AnonymousID != anonymousID:
		return false, refuse(CodeConflict, "this conversation was not started by this visitor")
	case v.ConvertedTo != "":
		return false, refuse(CodeGone, "this visitor became a known client: sign in with the client's account")
	}
	return true, nil
}

// Convert decides making the visitor anonymousID the known client user:
// the conversation's professional (an admin of it) or a service may. nil
// when it is done already (a retry).
func Convert(s *State, actor string, service bool, anonymousID, user string) (*events.AnonymousConverted, error) {
	c, v := s.Conversation(), s.visitor
	if c == nil || v == nil || v.AnonymousID != anonymousID {
		return nil, refuse(CodeNotFound, "no such visitor")
	}
	if !service && c.Members[actor] != events.RoleAdmin {
		return nil, refuse(CodeForbidden, "only the conversation's professional or a service converts its visitor")
	}
	switch {
	case v.ConvertedTo == user:
		return nil, nil
	case v.ConvertedTo != "":
		return nil, refuse(CodeConflict, "the visitor was converted to another client already")
	case c.IsMember(user):
		return nil, refuse(CodeConflict, "%s is already a participant of this conversation", user)
	}
	return &events.AnonymousConverted{ConversationID: s.ID, AnonymousID: anonymousID, UserID: user, ConvertedBy: actor}, nil
}

// Transfer decides handing a visitor's (or converted client's)
// conversation to the professional to: its admin, an application admin or
// a service may. The new professional joins as admin, every other admin
// leaves, then the conversation says it was transferred; nothing when to
// is the only professional already.
func Transfer(s *State, actor string, privileged bool, to string) ([]events.Payload, error) {
	c := s.Conversation()
	if c == nil {
		return nil, refuse(CodeNotFound, "no such conversation")
	}
	if !privileged {
		role, ok := c.Members[actor]
		if !ok {
			return nil, refuse(CodeNotMember, "you are not a member of this conversation")
		}
		if role != events.RoleAdmin {
			return nil, refuse(CodeForbidden, "only the conversation's professional, an application admin or a service transfers it")
		}
	}
	if s.visitor == nil {
		return nil, refuse(CodeConflict, "only conversations started by a visitor are transferred")
	}
	if role, ok := c.Members[to]; ok && role != events.RoleAdmin {
		return nil, refuse(CodeConflict, "%s is the client of this conversation", to)
	}
	var out []events.Payload
	if c.Members[to] != events.RoleAdmin {
		out = append(out, &events.MemberJoined{ConversationID: s.ID, UserID: to, Role: events.RoleAdmin, AddedBy: actor})
	}
	var from []string
	for _, id := range slices.Sorted(maps.Keys(c.Members)) {
		if id != to && c.Members[id] == events.RoleAdmin {
			out = append(out, &events.MemberLeft{ConversationID: s.ID, UserID: id, RemovedBy: actor})
			from = append(from, id)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return append(out, &events.ConversationTransferred{ConversationID: s.ID, FromUserIDs: from, ToUserID: to, TransferredBy: actor}), nil
}
