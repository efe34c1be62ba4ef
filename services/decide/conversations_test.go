package decide_test

import (
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

func closed() []events.Payload {
	return append(group(), &events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
		Closed: true, CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice"})
}

func dm() []events.Payload {
	return []events.Payload{&events.ConversationCreated{ConversationID: "c1", Kind: events.KindOneToOne,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleMember}, {UserID: "bob", Role: events.RoleMember}}}}
}

func role(r events.Role) *events.Role { return &r }
func yes() *bool                      { b := true; return &b }

// Every admin action, tried by each kind of actor: only admins of an open
// conversation act; a non-member is not_member, a one_to_one (no admins)
// refuses them all, a closed conversation refuses every one with closed
// (whoever asks) but closing, which admins may repeat to no effect.
func TestAdminActionsAreForAdminsOfOpenConversations(t *testing.T) {
	actions := map[string]func(s *decide.State, actor string) error{
		"title": func(s *decide.State, actor string) error {
			_, err := decide.UpdateConversation(s, actor, func(u *events.ConversationUpdated) { u.Title = "new" })
			return err
		},
		"pin": func(s *decide.State, actor string) error {
			_, err := decide.UpdateConversation(s, actor, func(u *events.ConversationUpdated) { u.Pinned = true })
			return err
		},
		"reply permission": func(s *decide.State, actor string) error {
			_, err := decide.UpdateConversation(s, actor, func(u *events.ConversationUpdated) { u.ReplyPermission = events.ReplyNone })
			return err
		},
		"participant role": func(s *decide.State, actor string) error {
			_, err := decide.UpdateParticipant(s, actor, "bob", decide.ParticipantChange{Role: role(events.RoleReadOnly)})
			return err
		},
		"participant canReply": func(s *decide.State, actor string) error {
			_, err := decide.UpdateParticipant(s, actor, "bob", decide.ParticipantChange{SetCanReply: true, CanReply: yes()})
			return err
		},
		"add": func(s *decide.State, actor string) error {
			_, err := decide.AddMembers(s, actor, []string{"carol"}, events.RoleMember, 10)
			return err
		},
		"remove another": func(s *decide.State, actor string) error {
			other := "bob"
			if actor == "bob" {
				other = "rita"
			}
			return decide.RemoveMember(s, actor, other)
		},
		"close": func(s *decide.State, actor string) error {
			_, err := decide.CloseConversation(s, actor)
			return err
		},
	}
	for name, act := range actions {
		for _, tc := range []struct {
			who   string
			log   []events.Payload
			actor string
			want  string
		}{
			{"admin", group(), "alice", ""},
			{"member", group(), "bob", decide.CodeForbidden},
			{"read_only", group(), "rita", decide.CodeForbidden},
			{"non-member", group(), "mallory", decide.CodeNotMember},
			{"unknown conversation", nil, "alice", decide.CodeNotFound},
			{"admin of a closed one", closed(), "alice", decide.CodeClosed},
			{"member of a closed one", closed(), "bob", decide.CodeClosed},
			{"one_to_one member", dm(), "alice", "one_to_one"},
		} {
			want := tc.want
			switch {
			case want == "one_to_one" && (name == "participant role" || name == "participant canReply" || name == "add" || name == "remove another"):
				want = decide.CodeConflict // fixed participants
			case want == "one_to_one":
				want = decide.CodeForbidden // no admins
			case name == "close" && tc.who == "admin of a closed one":
				want = "" // closing again changes nothing
			case name == "close" && tc.who == "member of a closed one":
				want = decide.CodeForbidden
			}
			if got := code(act(fold(t, tc.log...), tc.actor)); got != want {
				t.Errorf("%s by %s: %q, want %q", name, tc.who, got, want)
			}
		}
	}
}

func TestConversationChangesCarryTheWholeStateAndRepeatsChangeNothing(t *testing.T) {
	s := fold(t, group()...)
	u, err := decide.UpdateConversation(s, "alice", func(u *events.ConversationUpdated) {
		u.Title, u.Settings = "Équipe", events.Settings{"color": "red"}
	})
	if err != nil || u == nil {
		t.Fatalf("UpdateConversation = %v, %v", u, err)
	}
	if u.Kind != events.KindGroup || u.CreatedBy != "alice" || !u.CreatedAt.Equal(at) || u.ReplyPermission != events.ReplyAll ||
		u.UpdatedBy != "alice" || u.Closed || u.Pinned {
		t.Fatalf("the change does not carry the conversation as it is: %+v", u)
	}
	s = fold(t, append(group(), u)...)
	again, err := decide.UpdateConversation(s, "alice", func(u *events.ConversationUpdated) {
		u.Title, u.Settings = "Équipe", events.Settings{"color": "red"}
	})
	if err != nil || again != nil {
		t.Fatalf("the same change again = %+v, %v; want nothing to append", again, err)
	}
	pin, err := decide.UpdateConversation(s, "alice", func(u *events.ConversationUpdated) { u.Pinned = true })
	if err != nil || pin == nil || pin.Title != "Équipe" || pin.Settings["color"] != "red" || !pin.Pinned {
		t.Fatalf("pinning forgot the title or settings: %+v, %v", pin, err)
	}
	c, err := decide.CloseConversation(fold(t, closed()...), "alice")
	if err != nil || c != nil {
		t.Fatalf("closing a closed conversation = %+v, %v; want nothing", c, err)
	}
}

func TestParticipantChanges(t *testing.T) {
	withOverride := append(group(), &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleMember,
		CanReply: yes(), UpdatedBy: "alice"})
	twoAdmins := append(group(), &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, UpdatedBy: "alice"})
	for _, tc := range []struct {
		name          string
		log           []events.Payload
		actor, target string
		ch            decide.ParticipantChange
		want          string // role/override after, "-" for nothing to append, or the refusal code
	}{
		{"promote", group(), "alice", "bob", decide.ParticipantChange{Role: role(events.RoleAdmin)}, "admin/none"},
		{"set an override", group(), "alice", "rita", decide.ParticipantChange{SetCanReply: true, CanReply: yes()}, "read_only/true"},
		{"the override stays when the role changes", withOverride, "alice", "bob",
			decide.ParticipantChange{Role: role(events.RoleReadOnly)}, "read_only/true"},
		{"null removes it", withOverride, "alice", "bob", decide.ParticipantChange{SetCanReply: true}, "member/none"},
		{"the same again", withOverride, "alice", "bob", decide.ParticipantChange{Role: role(events.RoleMember), SetCanReply: true, CanReply: yes()}, "-"},
		{"unknown participant", group(), "alice", "zoe", decide.ParticipantChange{Role: role(events.RoleAdmin)}, decide.CodeNotFound},
		{"the last admin demotes themself", group(), "alice", "alice", decide.ParticipantChange{Role: role(events.RoleMember)}, decide.CodeConflict},
		{"an admin among two demotes themself", twoAdmins, "alice", "alice", decide.ParticipantChange{Role: role(events.RoleMember)}, "member/none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := decide.UpdateParticipant(fold(t, tc.log...), tc.actor, tc.target, tc.ch)
			got := code(err)
			switch {
			case err != nil:
			case p == nil:
				got = "-"
			default:
				got = string(p.Role) + "/none"
				if p.CanReply != nil {
					got = string(p.Role) + "/" + map[bool]string{true: "true", false: "false"}[*p.CanReply]
				}
				if p.UserID != tc.target || p.UpdatedBy != tc.actor {
					t.Fatalf("event names %s by %s", p.UserID, p.UpdatedBy)
				}
			}
			if got != tc.want {
				t.Fatalf("UpdateParticipant = %q, want %q", got, tc.want)
			}
		})
	}
}

// The last admin of a conversation with other members leaves only after
// naming another admin; alone, or with another admin, they leave.
func TestLastAdminCannotLeaveWithoutNamingAnother(t *testing.T) {
	alone := []events.Payload{&events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
		CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}}}}
	twoAdmins := append(group(), &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, UpdatedBy: "alice"})
	for _, tc := range []struct {
		name  string
		log   []events.Payload
		actor string
		want  string
	}{
		{"last admin with members", group(), "alice", decide.CodeConflict},
		{"last admin of a closed one", closed(), "alice", decide.CodeConflict},
		{"last admin alone", alone, "alice", ""},
		{"one of two admins", twoAdmins, "alice", ""},
		{"a member", group(), "bob", ""},
		{"a member of a closed one", closed(), "bob", ""},
	} {
		if got := code(decide.RemoveMember(fold(t, tc.log...), tc.actor, tc.actor)); got != tc.want {
			t.Errorf("%s leaves: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A closed conversation refuses edits and deletions with code closed.
func TestClosedConversationRefusesEditsAndDeletions(t *testing.T) {
	log := append(group(), &events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "bob",
		SenderType: events.ActorUser, Content: "hi", ContentType: events.ContentText},
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "k1", Status: events.StatusApproved},
		&events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, Closed: true,
			CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice"})
	s := fold(t, log...)
	if _, err := decide.EditMessage(s, "bob", "m1", "k2", "edited"); code(err) != decide.CodeClosed {
		t.Errorf("edit in a closed conversation: %q, want closed", code(err))
	}
	for _, actor := range []string{"bob", "alice"} {
		if _, err := decide.DeleteMessage(s, actor, "m1", "k3"); code(err) != decide.CodeClosed {
			t.Errorf("delete by %s in a closed conversation: %q, want closed", actor, code(err))
		}
	}
	if _, err := decide.ReadUpTo(s, "rita", "m1"); err != nil {
		t.Errorf("read receipt in a closed conversation: %v", err)
	}
}

// Adding a participant again with another role is a role change too: the
// last admin cannot make themself a member that way either.
func TestAddingTheLastAdminAgainAsMemberIsRefused(t *testing.T) {
	if _, err := decide.AddMembers(fold(t, group()...), "alice", []string{"alice"}, events.RoleMember, 10); code(err) != decide.CodeConflict {
		t.Fatalf("the last admin re-added as member: %q, want conflict", code(err))
	}
	twoAdmins := append(group(), &events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, UpdatedBy: "alice"})
	if got, err := decide.AddMembers(fold(t, twoAdmins...), "alice", []string{"alice"}, events.RoleMember, 10); err != nil || len(got) != 1 {
		t.Fatalf("one of two admins re-added as member: %v, %v", got, err)
	}
	if _, err := decide.AddMembers(fold(t, twoAdmins...), "alice", []string{"alice", "bob"}, events.RoleReadOnly, 10); code(err) != decide.CodeConflict {
		t.Fatalf("both admins re-added as read_only: %q, want conflict", code(err))
	}
}
