package decide_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
)

const app = "geosector"

var at = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// fold builds a conversation's state from payloads, at positions 1, 2, …
func fold(t *testing.T, ps ...events.Payload) *decide.State {
	t.Helper()
	s := decide.NewState(app, "c1")
	for i, p := range ps {
		e, err := events.New(events.NewEventID(), app, at.Add(time.Duration(i)*time.Second), events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(i + 1)
		if err := s.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// group is c1 with alice admin, bob member and rita read_only.
func group() []events.Payload {
	return []events.Payload{&events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember},
			{UserID: "rita", Role: events.RoleReadOnly}}}}
}

func code(err error) string {
	var r *decide.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func TestAddMembersDecidesOnTheFoldedState(t *testing.T) {
	dm := []events.Payload{&events.ConversationCreated{ConversationID: "c1", Kind: events.KindOneToOne,
		ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: []events.Member{
			{UserID: "alice", Role: events.RoleMember}, {UserID: "bob", Role: events.RoleMember}}}}
	bobLeft := append(group(), &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "alice"})
	bobPromoted := append(group(), &events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, AddedBy: "alice"})
	for _, tc := range []struct {
		name  string
		log   []events.Payload
		actor string
		users []string
		role  events.Role
		max   int
		want  []string
		code  string
	}{
		{"admin adds a newcomer", group(), "alice", []string{"carol"}, events.RoleMember, 10, []string{"carol"}, ""},
		{"admin changes a role", group(), "alice", []string{"bob"}, events.RoleAdmin, 10, []string{"bob"}, ""},
		{"same role again records nothing", group(), "alice", []string{"bob", "bob"}, events.RoleMember, 10, nil, ""},
		{"repeated ids count once", group(), "alice", []string{"carol", "carol"}, events.RoleMember, 4, []string{"carol"}, ""},
		{"member may not add", group(), "bob", []string{"carol"}, events.RoleMember, 10, nil, decide.CodeForbidden},
		{"member promoted later may add", bobPromoted, "bob", []string{"carol"}, events.RoleMember, 10, []string{"carol"}, ""},
		{"removed member may not add", bobLeft, "bob", []string{"carol"}, events.RoleMember, 10, nil, decide.CodeNotMember},
		{"non-member may not add", group(), "mallory", []string{"carol"}, events.RoleMember, 10, nil, decide.CodeNotMember},
		{"unknown conversation", nil, "alice", []string{"carol"}, events.RoleMember, 10, nil, decide.CodeNotFound},
		{"one_to_one is fixed", dm, "alice", []string{"carol"}, events.RoleMember, 10, nil, decide.CodeConflict},
		{"beyond the member limit", group(), "alice", []string{"carol", "dave"}, events.RoleMember, 4, nil, decide.CodeInvalidPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decide.AddMembers(fold(t, tc.log...), tc.actor, tc.users, tc.role, tc.max)
			if code(err) != tc.code || !slices.Equal(got, tc.want) {
				t.Fatalf("AddMembers = %v, %q; want %v, %q", got, code(err), tc.want, tc.code)
			}
		})
	}
}

func TestRemoveMemberDecidesOnTheFoldedState(t *testing.T) {
	aliceLeft := append(group(), &events.MemberLeft{ConversationID: "c1", UserID: "alice", RemovedBy: "alice"})
	for _, tc := range []struct {
		name          string
		log           []events.Payload
		actor, target string
		code          string
	}{
		{"admin removes a member", group(), "alice", "bob", ""},
		{"member leaves", group(), "bob", "bob", ""},
		{"read_only member leaves", group(), "rita", "rita", ""},
		{"member may not remove another", group(), "bob", "rita", decide.CodeForbidden},
		{"admin who left may not remove", aliceLeft, "alice", "bob", decide.CodeNotMember},
		{"target not a participant", group(), "alice", "carol", decide.CodeNotFound},
		{"unknown conversation", nil, "alice", "bob", decide.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(decide.RemoveMember(fold(t, tc.log...), tc.actor, tc.target)); got != tc.code {
				t.Fatalf("RemoveMember = %q, want %q", got, tc.code)
			}
		})
	}
}
