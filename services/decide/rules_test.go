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
		{"beyond the member limit", group(), "alice", []string{"carol", "dave"}, events.RoleMember, 4, nil, decide.CodeConflict},
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

// chat is the group with messages: m-bob (approved, by bob), m-alice
// (approved, by alice), m-held (bob's, pending), m-gone (bob's, deleted).
func chat() []events.Payload {
	post := func(id, sender string) *events.MessagePosted {
		return &events.MessagePosted{MessageID: id, ClientMsgID: "k-" + id, ConversationID: "c1", SenderID: sender,
			SenderType: events.ActorUser, Content: "hello", ContentType: events.ContentText}
	}
	ok := func(id, sender string) *events.MessageModerated {
		return &events.MessageModerated{MessageID: id, ConversationID: "c1", SenderID: sender, ClientMsgID: "k-" + id, Status: events.StatusApproved}
	}
	return append(group(), post("m-bob", "bob"), ok("m-bob", "bob"), post("m-alice", "alice"), ok("m-alice", "alice"),
		post("m-held", "bob"), post("m-gone", "bob"), ok("m-gone", "bob"),
		&events.MessageDeleted{MessageID: "m-gone", ConversationID: "c1", ClientMsgID: "d1", DeletedBy: "bob",
			Message: events.Posting{ClientMsgID: "k-m-gone", SenderID: "bob", SenderType: events.ActorUser, ContentType: events.ContentText, PostedSeq: 6}})
}

func TestEditAndDeleteDecideOnTheFoldedState(t *testing.T) {
	bobReadOnly := append(chat(), &events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleReadOnly, AddedBy: "alice"})
	bobLeft := append(chat(), &events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "bob"})
	for _, tc := range []struct {
		name           string
		log            []events.Payload
		actor, message string
		edit, delete   string // expected codes, "" when allowed
	}{
		{"author, own message", chat(), "bob", "m-bob", "", ""},
		{"other member, another's message", chat(), "rita", "m-bob", decide.CodeForbidden, decide.CodeForbidden},
		{"admin, another's message", chat(), "alice", "m-bob", decide.CodeForbidden, ""},
		{"member, the admin's message", chat(), "bob", "m-alice", decide.CodeForbidden, decide.CodeForbidden},
		{"non-member", chat(), "mallory", "m-bob", decide.CodeNotMember, decide.CodeNotMember},
		{"author who left", bobLeft, "bob", "m-bob", decide.CodeNotMember, decide.CodeNotMember},
		{"author now read_only", bobReadOnly, "bob", "m-bob", decide.CodeReplyNotAllowed, ""},
		{"unknown message", chat(), "bob", "m-none", decide.CodeNotFound, decide.CodeNotFound},
		{"another's message moderation holds", chat(), "alice", "m-held", decide.CodeNotFound, decide.CodeNotFound},
		{"own message moderation holds", chat(), "bob", "m-held", decide.CodeConflict, decide.CodeConflict},
		{"deleted message", chat(), "bob", "m-gone", decide.CodeGone, decide.CodeGone},
		{"deleted message, admin", chat(), "alice", "m-gone", decide.CodeGone, decide.CodeGone},
		{"unknown conversation", nil, "bob", "m-bob", decide.CodeNotFound, decide.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fold(t, tc.log...)
			ed, err := decide.EditMessage(s, tc.actor, tc.message, "k9", "new content")
			if code(err) != tc.edit {
				t.Errorf("EditMessage: %q, want %q", code(err), tc.edit)
			}
			if err == nil && (ed.Content != "new content" || ed.Message.SenderID != "bob" || ed.Message.PostedSeq == 0) {
				t.Errorf("EditMessage = %+v", ed)
			}
			del, err := decide.DeleteMessage(s, tc.actor, tc.message, "k9")
			if code(err) != tc.delete {
				t.Errorf("DeleteMessage: %q, want %q", code(err), tc.delete)
			}
			if err == nil && (del.DeletedBy != tc.actor || del.Message.ClientMsgID != "k-"+tc.message) {
				t.Errorf("DeleteMessage = %+v", del)
			}
		})
	}
}

func TestNewContentFollowsSendsRules(t *testing.T) {
	for content, want := range map[string]string{
		"fine": "", " \t\n": decide.CodeInvalidPayload, "": decide.CodeInvalidPayload, "12345678901": decide.CodeTooLarge,
	} {
		if got := code(decide.CheckContent(content, 10)); got != want {
			t.Errorf("CheckContent(%q) = %q, want %q", content, got, want)
		}
	}
}
