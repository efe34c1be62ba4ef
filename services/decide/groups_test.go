package decide_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// groupAt folds payloads into a group's state, as the log would hold them.
func groupAt(t *testing.T, ps ...events.Payload) *decide.GroupState {
	t.Helper()
	g := decide.NewGroupState("geosector", "g1")
	for i, p := range ps {
		e, err := events.New(events.NewEventID(), "geosector", time.Unix(0, 0), events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(i + 1)
		if err := g.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func refusalCode(err error) string {
	var r *decide.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestGroupRulesRefuseWhatTheStateForbids(t *testing.T) {
	created := &events.GroupCreated{GroupID: "g1", Name: "team", CreatedBy: "alice"}
	bob := &events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleMember, By: "alice"}
	asked := &events.GroupJoinRequested{GroupID: "g1", UserID: "carol"}
	none := groupAt(t)
	team := groupAt(t, created, bob, asked)
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"create anew", func() error { _, err := decide.CreateGroup(none, "alice"); return err }, ""},
		{"create someone else's id", func() error { _, err := decide.CreateGroup(team, "bob"); return err }, decide.CodeConflict},
		{"rename unknown", func() error { _, err := decide.RenameGroup(none, "alice", "x"); return err }, decide.CodeNotFound},
		{"rename by a member", func() error { _, err := decide.RenameGroup(team, "bob", "x"); return err }, decide.CodeForbidden},
		{"rename by an outsider", func() error { _, err := decide.RenameGroup(team, "carol", "x"); return err }, decide.CodeNotMember},
		{"ask to join unknown", func() error { _, err := decide.RequestToJoin(none, "carol"); return err }, decide.CodeNotFound},
		{"a member asks", func() error { _, err := decide.RequestToJoin(team, "bob"); return err }, decide.CodeConflict},
		{"add by a member", func() error { _, err := decide.AddGroupMember(team, "bob", "dave", events.RoleMember, 10); return err }, decide.CodeForbidden},
		{"add past the limit", func() error { _, err := decide.AddGroupMember(team, "alice", "dave", events.RoleMember, 2); return err }, decide.CodeInvalidPayload},
		{"the last admin steps down", func() error {
			_, err := decide.AddGroupMember(team, "alice", "alice", events.RoleMember, 10)
			return err
		}, decide.CodeConflict},
		{"refuse no request", func() error { return decide.RefuseJoin(team, "alice", "dave") }, decide.CodeNotFound},
		{"refuse by a member", func() error { return decide.RefuseJoin(team, "bob", "carol") }, decide.CodeForbidden},
		{"refuse a request", func() error { return decide.RefuseJoin(team, "alice", "carol") }, ""},
		{"a member removes another", func() error { return decide.RemoveGroupMember(team, "bob", "alice") }, decide.CodeForbidden},
		{"an outsider leaves", func() error { return decide.RemoveGroupMember(team, "carol", "carol") }, decide.CodeNotMember},
		{"remove a non-member", func() error { return decide.RemoveGroupMember(team, "alice", "carol") }, decide.CodeNotFound},
		{"the last admin leaves others behind", func() error { return decide.RemoveGroupMember(team, "alice", "alice") }, decide.CodeConflict},
		{"a member leaves", func() error { return decide.RemoveGroupMember(team, "bob", "bob") }, ""},
		{"an outsider creates a conversation", func() error { return decide.CreateGroupConversation(team, "carol") }, decide.CodeNotMember},
		{"join a conversation of another group", func() error {
			_, err := decide.JoinGroupConversation(team, decide.GroupConversation{Exists: true, Group: "g2"}, "bob", 10)
			return err
		}, decide.CodeNotFound},
		{"an outsider joins a conversation", func() error {
			_, err := decide.JoinGroupConversation(team, decide.GroupConversation{Exists: true, Group: "g1"}, "carol", 10)
			return err
		}, decide.CodeNotMember},
		{"join a full conversation", func() error {
			_, err := decide.JoinGroupConversation(team, decide.GroupConversation{Exists: true, Group: "g1", Members: 10}, "bob", 10)
			return err
		}, decide.CodeInvalidPayload},
	}
	for _, tc := range cases {
		if got := refusalCode(tc.err()); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRepeatedGroupCommandsChangeNothing(t *testing.T) {
	g := groupAt(t, &events.GroupCreated{GroupID: "g1", Name: "team", CreatedBy: "alice"},
		&events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleMember, By: "alice"},
		&events.GroupJoinRequested{GroupID: "g1", UserID: "carol"})
	if created, err := decide.CreateGroup(g, "alice"); created || err != nil {
		t.Errorf("creating again: %v %v", created, err)
	}
	if renamed, err := decide.RenameGroup(g, "alice", "team"); renamed || err != nil {
		t.Errorf("the same name: %v %v", renamed, err)
	}
	if ask, err := decide.RequestToJoin(g, "carol"); ask || err != nil {
		t.Errorf("asking again: %v %v", ask, err)
	}
	if add, err := decide.AddGroupMember(g, "alice", "bob", events.RoleMember, 10); add || err != nil {
		t.Errorf("adding again: %v %v", add, err)
	}
	if join, err := decide.JoinGroupConversation(g, decide.GroupConversation{Exists: true, Group: "g1", Member: true}, "bob", 10); join || err != nil {
		t.Errorf("joining again: %v %v", join, err)
	}
}

func TestGroupStateFoldsRequestsAndMembers(t *testing.T) {
	g := groupAt(t, &events.GroupJoinRequested{GroupID: "g1", UserID: "early"}, // before the creation: ignored
		&events.GroupCreated{GroupID: "g1", Name: "team", CreatedBy: "alice"},
		&events.GroupJoinRequested{GroupID: "g1", UserID: "bob"},
		&events.GroupJoinRequested{GroupID: "g1", UserID: "carol"},
		&events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleAdmin, By: "alice"},
		&events.GroupJoinRefused{GroupID: "g1", UserID: "carol", By: "bob"},
		&events.GroupMemberLeft{GroupID: "g1", UserID: "alice", By: "alice"},
		&events.GroupUpdated{GroupID: "g1", Name: "renamed", By: "bob"})
	if g.Pos != 8 || g.Name != "renamed" || len(g.Members) != 1 || g.Members["bob"] != events.RoleAdmin || len(g.Requests) != 0 {
		t.Fatalf("state: %+v", g)
	}
}

// A group command decided at one position, while a removal lands before
// its append, is refused by the log and decided again on the new state.
func TestGroupCommandOvertakenByARemovalIsDecidedAgain(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	appendEvent(t, js, "alice", &events.GroupCreated{GroupID: "g1", Name: "team", CreatedBy: "alice"})
	appendEvent(t, js, "alice", &events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleMember, By: "alice"})
	groups := decide.NewGroups(js, jet.NewAppender(js), 0)
	attempts := 0
	_, err := groups.Decide(ctx, app, "g1", func(g *decide.GroupState) ([]*events.Envelope, error) {
		attempts++
		if attempts == 1 { // another chatd removes bob meanwhile
			appendEvent(t, js, "alice", &events.GroupMemberLeft{GroupID: "g1", UserID: "bob", By: "alice"})
		}
		if err := decide.CreateGroupConversation(g, "bob"); err != nil {
			return nil, err
		}
		e, err := events.New(events.NewEventID(), app, at, events.Actor{ID: "bob", Type: events.ActorUser},
			&events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
				CreatedBy: "bob", GroupID: "g1", Members: []events.Member{{UserID: "bob", Role: events.RoleAdmin}}})
		return []*events.Envelope{e}, err
	})
	if refusalCode(err) != decide.CodeNotMember || attempts != 2 {
		t.Fatalf("after %d attempts: %v, want not_member on the second", attempts, err)
	}
	stream, _ := js.Stream(ctx, events.Stream)
	if _, err := stream.GetLastMsgForSubject(ctx, events.ConversationSubjects(app, "c1")); err == nil {
		t.Fatal("the conversation decided on the stale state was appended")
	}
}
