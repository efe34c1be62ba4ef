package natsauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// matches reports whether a NATS subject pattern covers subject, token by
// token, as the server's permission check does.
func matches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(p) == len(s)
}

func allowed(perm *server.SubjectPermission, subject string) bool {
	return slices.ContainsFunc(perm.Allow, func(p string) bool { return matches(p, subject) })
}

func TestServicePermissionsKeepAServiceToItsApplicationAndDurable(t *testing.T) {
	bot := Service{App: "geosector", Name: "bot"}
	p := Permissions(bot)
	dur := bot.Durable() // svc_bot_geosector
	cases := []struct {
		subject string
		pub     bool
		sub     bool
	}{
		// Its application: commands out, events in.
		{"chat.cmd.geosector.send", true, false},
		{"chat.evt.geosector.conv.c1.message.posted", false, true},
		// Never append events, never read another application.
		{"chat.evt.geosector.conv.c1.member.joined", false, true},
		{"chat.evt.resalice.conv.c1.message.posted", false, false},
		{"chat.cmd.resalice.send", false, false},
		{"chat.evt.>", false, false},
		// Live signals are chatd's own: a service can neither forge nor read them.
		{"chat.live.geosector.presence.alice", false, false},
		{"chat.live.>", false, false},
		{"chat.dlq.fanout", false, false},
		{"chat.live.geosector.typing.c1", false, false},
		// Its own durable, filtered on its application only.
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS." + dur + ".chat.evt.geosector.>", true, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS." + dur + ".chat.evt.geosector.conv.c1.>", true, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS." + dur + ".chat.evt.resalice.>", false, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS." + dur + ".chat.evt.>", false, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS." + dur, false, false},
		{"$JS.API.CONSUMER.DURABLE.CREATE.CHAT_EVENTS." + dur, false, false},
		{"$JS.API.CONSUMER.INFO.CHAT_EVENTS." + dur, true, false},
		{"$JS.API.CONSUMER.MSG.NEXT.CHAT_EVENTS." + dur, true, false},
		{"$JS.API.CONSUMER.DELETE.CHAT_EVENTS." + dur, true, false},
		{"$JS.ACK.CHAT_EVENTS." + dur + ".1.2.3.4.5", true, false},
		// chatd's consumers and everything about the stream are out of reach.
		{"$JS.API.CONSUMER.MSG.NEXT.CHAT_EVENTS.fanout", false, false},
		{"$JS.API.CONSUMER.INFO.CHAT_EVENTS.moderation", false, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS.fanout.chat.evt.geosector.>", false, false},
		{"$JS.ACK.CHAT_EVENTS.fanout.1.2.3.4.5", false, false},
		{"$JS.API.CONSUMER.CREATE.CHAT_EVENTS", false, false},
		{"$JS.API.STREAM.INFO.CHAT_EVENTS", false, false},
		{"$JS.API.STREAM.MSG.GET.CHAT_EVENTS", false, false},
		{"$JS.API.DIRECT.GET.CHAT_EVENTS", false, false},
		{"$JS.API.STREAM.PURGE.CHAT_EVENTS", false, false},
		{"$JS.API.CONSUMER.LIST.CHAT_EVENTS", false, false},
		// Replies: its own inbox only.
		{bot.InboxPrefix() + ".abc", false, true},
		{"_INBOX.abc", false, false},
		{"_INBOX_svc_bot_resalice.abc", false, false},
	}
	for _, tc := range cases {
		if got := allowed(p.Publish, tc.subject); got != tc.pub {
			t.Errorf("publish %s: allowed %v, want %v", tc.subject, got, tc.pub)
		}
		if got := allowed(p.Subscribe, tc.subject); got != tc.sub {
			t.Errorf("subscribe %s: allowed %v, want %v", tc.subject, got, tc.sub)
		}
	}
}

func TestServiceNamesGiveOneAccountPerApplicationAndName(t *testing.T) {
	// App ids may hold "_" and "-"; names hold neither "_" nor upper case.
	services := []Service{
		{"a", "b-c"}, {"a-b", "c"}, {"a_b", "c"}, {"b_a", "c"}, {"c_a", "b"}, {"geosector", "bot"},
		{"Geosector", "bot"}, {"geosector", "bot-2"},
	}
	seen := map[string]Service{}
	for _, s := range services {
		if err := s.Validate(); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		for _, token := range []string{s.User(), s.InboxPrefix()} {
			if other, dup := seen[token]; dup {
				t.Errorf("%+v and %+v share %q", s, other, token)
			}
			seen[token] = s
			if strings.ContainsAny(token, ".*> \t") {
				t.Errorf("%q is not one NATS token", token)
			}
		}
		if s.User() == ChatdUser || s.Durable() == "fanout" || s.Durable() == "moderation" {
			t.Errorf("%+v takes a name of chatd's", s)
		}
	}
}

func TestServiceValidateRefusesNamesThatCouldCollide(t *testing.T) {
	for _, s := range []Service{
		{"", "bot"}, {"geo.sector", "bot"}, {"geo*", "bot"}, {strings.Repeat("a", 65), "bot"},
		{"geosector", ""}, {"geosector", "my_bot"}, {"geosector", "Bot"}, {"geosector", "-bot"},
		{"geosector", "bot.x"}, {"geosector", strings.Repeat("b", 33)},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func TestPasswordsAreStablePerAccountAndSecret(t *testing.T) {
	a, b := Service{"geosector", "bot"}, Service{"resalice", "bot"}
	if a.Password("k") != a.Password("k") {
		t.Fatal("the same account and secret give two passwords")
	}
	if a.Password("k") == b.Password("k") || a.Password("k") == a.Password("k2") {
		t.Fatal("a password is shared across accounts or secrets")
	}
	users := Users("chatd-pw", "k", []Service{a})
	if len(users) != 2 || users[0].Username != ChatdUser || users[0].Permissions != nil {
		t.Fatalf("chatd is not first with full rights: %+v", users[0])
	}
	if users[1].Username != a.User() || users[1].Password != a.Password("k") || users[1].Permissions == nil {
		t.Fatalf("service user: %+v", users[1])
	}
}
