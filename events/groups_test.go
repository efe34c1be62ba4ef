package events_test

import (
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestGroupAndUserRoomPayloadsAreValidated(t *testing.T) {
	cases := []struct {
		name string
		p    events.Payload
		want string
	}{
		{"group id with a dot", &events.GroupCreated{GroupID: "g.1", Name: "n", CreatedBy: "alice"}, "groupId"},
		{"blank name", &events.GroupCreated{GroupID: "g1", Name: " ", CreatedBy: "alice"}, "name"},
		{"name too long", &events.GroupUpdated{GroupID: "g1", Name: strings.Repeat("é", 101), By: "alice"}, "name"},
		{"NUL in name", &events.GroupUpdated{GroupID: "g1", Name: "a\x00", By: "alice"}, "name"},
		{"invalid UTF-8 in name", &events.GroupCreated{GroupID: "g1", Name: "a\xff", CreatedBy: "alice"}, "name"},
		{"requester id", &events.GroupJoinRequested{GroupID: "g1", UserID: ""}, "userId"},
		{"refused by nobody", &events.GroupJoinRefused{GroupID: "g1", UserID: "bob"}, "by"},
		{"read_only in a group", &events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleReadOnly, By: "alice"}, "role"},
		{"leaver id", &events.GroupMemberLeft{GroupID: "g1", UserID: "b b", By: "alice"}, "userId"},
		{"conversation's group id", &events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
			CreatedBy: "alice", GroupID: "g/1", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}}}, "groupId"},
		{"muted id", &events.SettingsChanged{UserID: "bob", Settings: events.UserSettings{MutedConversations: []string{"c 1"}}}, "mutedConversations[0]"},
		{"muted twice", &events.SettingsChanged{UserID: "bob", Settings: events.UserSettings{MutedConversations: []string{"c1", "c1"}}}, "mutedConversations"},
		{"muted too many", &events.SettingsChanged{UserID: "bob", Settings: events.UserSettings{MutedConversations: make([]string, 501)}}, "mutedConversations"},
		{"read mark at zero", &events.NotificationsRead{UserID: "bob"}, "upTo"},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

func TestGroupEventsLiveUnderTheGroupScope(t *testing.T) {
	p := &events.GroupMemberJoined{GroupID: "g1", UserID: "bob", Role: events.RoleMember, By: "alice"}
	if got, want := events.SubjectOf("geosector", p), "chat.evt.geosector.group.g1.group.member.joined"; got != want {
		t.Fatalf("subject %s, want %s", got, want)
	}
	if got, want := events.SettingsSubject("geosector", "bob"), "chat.evt.geosector.user.bob.settings.changed"; got != want {
		t.Fatalf("settings subject %s, want %s", got, want)
	}
	if events.GroupID("geosector", "alice", "k") != events.GroupID("geosector", "alice", "k") ||
		events.GroupID("geosector", "alice", "k") == events.GroupID("geosector", "bob", "k") {
		t.Fatal("group ids are not derived from app, creator and key")
	}
}
