package bridge_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/services/auth"
)

var prefixes = []string{"chat", "resalice"}

func claims(app, user, role string) *auth.Claims {
	return &auth.Claims{App: app, Role: role, RegisteredClaims: jwt.RegisteredClaims{Subject: user}}
}

func TestUserPublishesOnlyOwnCommands(t *testing.T) {
	alice := claims("geosector", "alice", "member")
	cases := []struct {
		topic string
		want  bool
	}{
		{"chat/cmd/alice/send", true},
		{"chat/cmd/alice/typing", true},
		{"chat/cmd/alice/anything", true}, // unknown actions get command.rejected, not a silent drop
		{"chat/cmd/bob/send", false},
		{"chat/cmd/alic/send", false},
		{"chat/cmd/alice2/send", false},
		{"chat/cmd/+/send", false},
		{"chat/cmd/alice/+", false},
		{"chat/cmd/alice/#", false},
		{"chat/cmd/alice/", false},
		{"chat/cmd/alice", false},
		{"chat/cmd/alice/send/more", false},
		{"resalice/cmd/alice/send", false},
		{"other/cmd/alice/send", false},
		{"/cmd/alice/send", false},
		{"chat/user/alice/messages", false}, // never forge a delivery, even to oneself
		{"chat/user/bob/messages", false},
		{"chat/cmd/alice/send/", false},
		{"chat/CMD/alice/send", false},
		{"$share/g/chat/cmd/alice/send", false},
	}
	for _, tc := range cases {
		if got := bridge.Allowed(alice, "chat", prefixes, tc.topic, true); got != tc.want {
			t.Errorf("alice publish %q: allowed = %v, want %v", tc.topic, got, tc.want)
		}
	}
}

func TestUserSubscribesOnlyInsideOwnUserTopics(t *testing.T) {
	alice := claims("geosector", "alice", "member")
	cases := []struct {
		filter string
		want   bool
	}{
		{"chat/user/alice/#", true},
		{"chat/user/alice/messages", true},
		{"chat/user/alice/errors", true},
		{"chat/user/alice/+", false},
		{"chat/user/alice/+/x", false},
		{"chat/user/alice/messages/+", false},
		{"chat/user/alice/#/x", false},
		{"chat/user/alice/", false},
		{"chat/user/alice", false},
		{"chat/user/+/#", false},
		{"chat/user/+/messages", false},
		{"chat/user/#", false},
		{"chat/user/bob/#", false},
		{"chat/user/bob/messages", false},
		{"chat/user/alicebob/#", false},
		{"chat/user/ali/#", false},
		{"chat/#", false},
		{"#", false},
		{"+/user/alice/#", false},
		{"+/+/+/+", false},
		{"resalice/user/alice/#", false},
		{"other/user/alice/#", false},
		{"$share/g/chat/user/alice/#", false},
		{"$share/g/chat/user/alice/messages", false},
		{"$SYS/#", false},
		{"chat/cmd/alice/send", false},
		{"chat/cmd/+/+", false},
	}
	for _, tc := range cases {
		if got := bridge.Allowed(alice, "chat", prefixes, tc.filter, false); got != tc.want {
			t.Errorf("alice subscribe %q: allowed = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestUserOfAnotherAppStaysInsideItsPrefix(t *testing.T) {
	bob := claims("resalice", "bob", "member")
	if !bridge.Allowed(bob, "resalice", prefixes, "resalice/user/bob/#", false) {
		t.Error("bob may not read his own resalice topics")
	}
	if !bridge.Allowed(bob, "resalice", prefixes, "resalice/cmd/bob/send", true) {
		t.Error("bob may not send resalice commands")
	}
	if bridge.Allowed(bob, "resalice", prefixes, "chat/user/bob/#", false) {
		t.Error("bob of resalice reads geosector's topics for a user of the same name")
	}
	if bridge.Allowed(bob, "resalice", prefixes, "chat/cmd/bob/send", true) {
		t.Error("bob of resalice sends geosector commands")
	}
}

func TestAdminRoleGivesNoExtraTopics(t *testing.T) {
	admin := claims("geosector", "boss", "super_admin")
	for _, tc := range []struct {
		topic string
		write bool
	}{
		{"chat/cmd/+/+", false},
		{"chat/user/alice/#", false},
		{"chat/user/alice/messages", true},
		{"chat/cmd/alice/send", true},
	} {
		if bridge.Allowed(admin, "chat", prefixes, tc.topic, tc.write) {
			t.Errorf("an admin token opens %q (write=%v)", tc.topic, tc.write)
		}
	}
}

func TestServiceReadsCommandsAndWritesUserTopicsOfEveryApp(t *testing.T) {
	svc := claims("geosector", "chat-bridge", auth.RoleService)
	cases := []struct {
		topic string
		write bool
		want  bool
	}{
		{"chat/cmd/+/+", false, true},
		{"resalice/cmd/+/+", false, true},
		{"chat/cmd/#", false, true},
		{"chat/cmd/alice/send", false, true},
		{"chat/user/alice/messages", true, true},
		{"resalice/user/bob/moderation", true, true},

		{"chat/cmd/alice/send", true, false}, // a service never speaks for a user over MQTT
		{"resalice/cmd/bob/send", true, false},
		{"chat/user/alice/#", false, false},
		{"chat/user/alice/messages", false, false},
		{"other/cmd/+/+", false, false},
		{"other/user/alice/messages", true, false},
		{"chatx/user/alice/messages", true, false},
		{"chatx/cmd/+/+", false, false},
		{"#", false, false},
		{"#", true, false},
		{"+/cmd/+/+", false, false},
		{"chat/user", true, false},
		{"chat/cmd", false, false},
	}
	for _, tc := range cases {
		if got := bridge.Allowed(svc, "chat", prefixes, tc.topic, tc.write); got != tc.want {
			t.Errorf("service %q write=%v: allowed = %v, want %v", tc.topic, tc.write, got, tc.want)
		}
	}
}

func TestServiceWithNoApplicationsGetsNothing(t *testing.T) {
	svc := claims("geosector", "chat-bridge", auth.RoleService)
	if bridge.Allowed(svc, "chat", nil, "chat/cmd/+/+", false) || bridge.Allowed(svc, "chat", nil, "chat/user/a/messages", true) {
		t.Fatal("a service is allowed topics of no configured application")
	}
}
