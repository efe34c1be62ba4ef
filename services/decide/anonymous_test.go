package decide_test

import (
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

// visit is c1 started by visitor anon-v with professional pro.
func visit() []events.Payload {
	return []events.Payload{
		&events.ConversationCreated{ConversationID: "c1", Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
			CreatedBy: "anon-v", Members: []events.Member{{UserID: "anon-v", Role: events.RoleMember}, {UserID: "pro", Role: events.RoleAdmin}}},
		&events.AnonymousUserCreated{ConversationID: "c1", AnonymousID: "anon-v", ProfessionalID: "pro"},
	}
}

func converted(to string) events.Payload {
	return &events.AnonymousConverted{ConversationID: "c1", AnonymousID: "anon-v", UserID: to, ConvertedBy: "pro"}
}

func TestStartVisitFindsTheVisitorAgainUntilItIsConverted(t *testing.T) {
	if found, err := decide.StartVisit(fold(t), "anon-v"); found || err != nil {
		t.Fatalf("new conversation: found=%v err=%v, want a creation", found, err)
	}
	if found, err := decide.StartVisit(fold(t, visit()...), "anon-v"); !found || err != nil {
		t.Fatalf("same device: found=%v err=%v, want the visitor back", found, err)
	}
	if _, err := decide.StartVisit(fold(t, append(visit(), converted("client"))...), "anon-v"); code(err) != decide.CodeGone {
		t.Fatalf("converted visitor: %v, want gone", err)
	}
	if _, err := decide.StartVisit(fold(t, group()...), "anon-v"); code(err) != decide.CodeConflict {
		t.Fatalf("a conversation of others: %v, want conflict", err)
	}
}

func TestConvertIsForTheProfessionalOrAServiceAndHappensOnce(t *testing.T) {
	done := append(visit(), converted("client"))
	for _, tc := range []struct {
		name    string
		log     []events.Payload
		actor   string
		service bool
		anon    string
		user    string
		want    string // refusal code; "" with wantEvent
		event   bool
	}{
		{"professional converts", visit(), "pro", false, "anon-v", "client", "", true},
		{"service converts", visit(), "svc", true, "anon-v", "client", "", true},
		{"visitor converts itself", visit(), "anon-v", false, "anon-v", "client", decide.CodeForbidden, false},
		{"stranger converts", visit(), "mallory", false, "anon-v", "client", decide.CodeForbidden, false},
		{"unknown visitor", visit(), "pro", false, "anon-x", "client", decide.CodeNotFound, false},
		{"not a visitor's conversation", group(), "alice", false, "anon-v", "client", decide.CodeNotFound, false},
		{"to the professional", visit(), "pro", false, "anon-v", "pro", decide.CodeConflict, false},
		{"again to the same client: nothing new", done, "pro", false, "anon-v", "client", "", false},
		{"again to another client", done, "pro", false, "anon-v", "other", decide.CodeConflict, false},
	} {
		p, err := decide.Convert(fold(t, tc.log...), tc.actor, tc.service, tc.anon, tc.user)
		if code(err) != tc.want || (p != nil) != tc.event {
			t.Errorf("%s: event %v, err %v; want event=%v code %q", tc.name, p, err, tc.event, tc.want)
		}
	}
}

func TestConversionHandsTheVisitorsPlaceAndMessagesToTheClient(t *testing.T) {
	log := append(visit(),
		&events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "anon-v",
			SenderType: events.ActorAnonymous, Content: "bonjour", ContentType: events.ContentText},
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "anon-v", ClientMsgID: "k1", Status: events.StatusApproved},
		converted("client"))
	s := fold(t, log...)
	c := s.Conversation()
	if c.IsMember("anon-v") || c.Members["client"] != events.RoleMember || c.CreatedBy != "client" {
		t.Fatalf("members %v created by %s: want the client in the visitor's place", c.Members, c.CreatedBy)
	}
	if m, _ := s.Message("m1"); m.SenderID != "client" || m.SenderType != events.ActorUser {
		t.Fatalf("message m1 by %s (%s), want the client's", m.SenderID, m.SenderType)
	}
	if _, err := decide.EditMessage(s, "client", "m1", "k2", "bonjour, édité"); err != nil {
		t.Fatalf("the client may not edit what it wrote as a visitor: %v", err)
	}
	if _, err := decide.EditMessage(s, "anon-v", "m1", "k3", "x"); code(err) != decide.CodeNotMember {
		t.Fatalf("the visitor edits after its conversion: %v", err)
	}
}

func TestTransferMovesTheConversationToTheNewProfessional(t *testing.T) {
	kinds := func(ps []events.Payload) (joined, left []string) {
		for _, p := range ps {
			switch p := p.(type) {
			case *events.MemberJoined:
				if p.Role != events.RoleAdmin {
					t.Errorf("%s joins as %s, want admin", p.UserID, p.Role)
				}
				joined = append(joined, p.UserID)
			case *events.MemberLeft:
				left = append(left, p.UserID)
			}
		}
		return joined, left
	}
	ps, err := decide.Transfer(fold(t, visit()...), "pro", false, "pro2")
	if joined, left := kinds(ps); err != nil || len(joined) != 1 || joined[0] != "pro2" || len(left) != 1 || left[0] != "pro" {
		t.Fatalf("transfer: joined %v left %v err %v; want pro2 in, pro out", joined, left, err)
	}
	if told, ok := ps[len(ps)-1].(*events.ConversationTransferred); !ok || told.ToUserID != "pro2" || len(told.FromUserIDs) != 1 || told.FromUserIDs[0] != "pro" {
		t.Fatalf("transfer ends with %#v, want the members told pro handed it to pro2", ps[len(ps)-1])
	}
	moved := append(visit(), &events.MemberJoined{ConversationID: "c1", UserID: "pro2", Role: events.RoleAdmin, AddedBy: "pro"},
		&events.MemberLeft{ConversationID: "c1", UserID: "pro", RemovedBy: "pro"})
	if ps, err := decide.Transfer(fold(t, moved...), "pro2", false, "pro2"); len(ps) != 0 || err != nil {
		t.Fatalf("transfer to the professional it has: %v %v, want nothing to do", ps, err)
	}
	halfway := append(visit(), &events.MemberJoined{ConversationID: "c1", UserID: "pro2", Role: events.RoleAdmin, AddedBy: "pro"})
	if _, left := kinds(mustTransfer(t, fold(t, halfway...), "pro", "pro2")); len(left) != 1 || left[0] != "pro" {
		t.Fatalf("a transfer that half landed: left %v, want pro to leave", left)
	}
	for _, tc := range []struct {
		name       string
		log        []events.Payload
		actor      string
		privileged bool
		to         string
		want       string
	}{
		{"by the visitor", visit(), "anon-v", false, "pro2", decide.CodeForbidden},
		{"by a stranger", visit(), "mallory", false, "pro2", decide.CodeNotMember},
		{"by an application admin", visit(), "boss", true, "pro2", ""},
		{"to the client", visit(), "pro", false, "anon-v", decide.CodeConflict},
		{"of a group", group(), "alice", false, "pro2", decide.CodeConflict},
		{"of nothing", nil, "pro", false, "pro2", decide.CodeNotFound},
	} {
		if _, err := decide.Transfer(fold(t, tc.log...), tc.actor, tc.privileged, tc.to); code(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func mustTransfer(t *testing.T, s *decide.State, actor, to string) []events.Payload {
	t.Helper()
	ps, err := decide.Transfer(s, actor, false, to)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
