package moderation_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/moderation"
	"github.com/chatbackend/chat/services/roster"
)

func conv(perm events.ReplyPermission) *roster.Conversation {
	return &roster.Conversation{Kind: events.KindGroup, ReplyPermission: perm, CreatedBy: "alice",
		Members: map[string]events.Role{"alice": events.RoleAdmin, "bob": events.RoleMember, "carol": events.RoleReadOnly}}
}

func post(sender, content string) *events.MessagePosted {
	return &events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: sender,
		SenderType: events.ActorUser, Content: content, ContentType: events.ContentText}
}

// decide runs the pure decision with app's configured rules (none for a nil
// app) and no history of the sender.
func decide(app *config.App, c *roster.Conversation, m *events.MessagePosted) moderation.Decision {
	doc := config.DefaultRules(events.ModerationRules{})
	if app != nil {
		doc = app.Moderation.Rules()
	}
	return moderation.Decide(moderation.Compile(doc), &moderation.Sender{}, c, m, t0)
}

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

var (
	approved        = moderation.Decision{Status: events.StatusApproved}
	notMember       = moderation.Decision{Status: events.StatusRejected, Reason: events.ReasonNotMember}
	replyNotAllowed = moderation.Decision{Status: events.StatusRejected, Reason: events.ReasonReplyNotAllowed}
	badWords        = moderation.Decision{Status: events.StatusRejected, Reason: events.ReasonBadWords}
)

func TestDecideMembershipAndReplyPermission(t *testing.T) {
	geo := config.Defaults()["geosector"]
	cases := []struct {
		name   string
		conv   *roster.Conversation
		sender string
		want   moderation.Decision
	}{
		{"unknown conversation", nil, "alice", notMember},
		{"non-member", conv(events.ReplyAll), "mallory", notMember},
		{"member, replies open", conv(events.ReplyAll), "bob", approved},
		{"read-only member", conv(events.ReplyAll), "carol", replyNotAllowed},
		{"member, admins only", conv(events.ReplyAdminsOnly), "bob", replyNotAllowed},
		{"admin, admins only", conv(events.ReplyAdminsOnly), "alice", approved},
		{"member, no replies", conv(events.ReplyNone), "bob", replyNotAllowed},
		{"admin, no replies", conv(events.ReplyNone), "alice", approved},
		{"member, sender only", conv(events.ReplySenderOnly), "bob", replyNotAllowed},
	}
	for _, tc := range cases {
		if got := decide(geo, tc.conv, post(tc.sender, "hello")); got != tc.want {
			t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecideMembershipComesBeforeBadWords(t *testing.T) {
	geo := config.Defaults()["geosector"]
	if got := decide(geo, conv(events.ReplyAll), post("mallory", "idiot")); got != notMember {
		t.Errorf("non-member with a bad word: %+v, want not_member", got)
	}
	if got := decide(geo, conv(events.ReplyAll), post("carol", "idiot")); got != replyNotAllowed {
		t.Errorf("read-only member with a bad word: %+v, want reply_not_allowed", got)
	}
}

func TestDecideBadWordsMatchWholeWordsCaseInsensitively(t *testing.T) {
	geo := config.Defaults()["geosector"] // bad words: idiot, imbecile, connard
	cases := []struct {
		content string
		want    moderation.Decision
	}{
		{"idiot", badWords},
		{"IDIOT", badWords},
		{"Quel Idiot !", badWords},
		{"tu es un idiot.", badWords},
		{"(idiot)", badWords},
		{"c'est-à-dire idiot?", badWords},
		{"idiot\nsur la ligne", badWords},
		{"bonjour\tconnard", badWords},
		{"ImBéCiLe", badWords}, // accents do not hide a word
		{"imbecile_", badWords},

		// Scunthorpe: a bad word inside a longer word is not a bad word
		{"idiotic", approved},
		{"idiots", approved},
		{"superidiot", approved},
		{"idiot2", approved},
		{"connards", approved},
		{"Scunthorpe", approved},
		{"bonjour tout le monde", approved},
		{"", approved},
	}
	for _, tc := range cases {
		if got := decide(geo, conv(events.ReplyAll), post("bob", tc.content)); got != tc.want {
			t.Errorf("Decide(%q) = %+v, want %+v", tc.content, got, tc.want)
		}
	}
}

func TestDecideMatchesBadWordsWrittenInAnyCaseInTheConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.yaml")
	yaml := "applications:\n  x:\n    moderation:\n      enabled: true\n      badWords: [\"  Cunt \"]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.LoadApps(path)
	if err != nil {
		t.Fatal(err)
	}
	app := loaded["x"]
	if got := decide(app, conv(events.ReplyAll), post("bob", "Scunthorpe United")); got != approved {
		t.Errorf("Scunthorpe rejected: %+v", got)
	}
	if got := decide(app, conv(events.ReplyAll), post("bob", "you CUNT")); got != badWords {
		t.Errorf("whole bad word approved: %+v", got)
	}
}

func TestDecideApprovesWhenModerationIsDisabled(t *testing.T) {
	res := config.Defaults()["resalice"] // moderation off
	res.Moderation.BadWords = []string{"idiot"}
	if got := decide(res, conv(events.ReplyAll), post("bob", "idiot")); got != approved {
		t.Errorf("moderation off: Decide = %+v, want approved", got)
	}
	if got := decide(res, conv(events.ReplyAll), post("mallory", "hi")); got != notMember {
		t.Errorf("moderation off still checks membership: Decide = %+v, want not_member", got)
	}
}

func TestDecideWithoutAppSettingsChecksOnlyMembership(t *testing.T) {
	if got := decide(nil, conv(events.ReplyAll), post("bob", "idiot")); got != approved {
		t.Errorf("nil app: Decide = %+v, want approved", got)
	}
	if got := decide(nil, nil, post("bob", "hi")); got != notMember {
		t.Errorf("nil app and conversation: Decide = %+v, want not_member", got)
	}
}

func TestDecideWithModerationOnAndNoWordsApproves(t *testing.T) {
	app := &config.App{Moderation: config.Moderation{Enabled: true}}
	if got := decide(app, conv(events.ReplyAll), post("bob", "idiot")); got != approved {
		t.Errorf("no bad words configured: Decide = %+v, want approved", got)
	}
}

func TestDecideReplyNamesAMessageOfTheSameConversation(t *testing.T) {
	here, elsewhere := conv(events.ReplyAll), conv(events.ReplyAll)
	notFound := moderation.Decision{Status: events.StatusRejected, Reason: events.ReasonReplyNotFound}
	reply := post("bob", "agreed")
	reply.ReplyTo = "m0"
	for _, tc := range []struct {
		name      string
		d         moderation.Decision
		m         *events.MessagePosted
		repliedIn *roster.Conversation
		want      moderation.Decision
	}{
		{"no reply", approved, post("bob", "hi"), nil, approved},
		{"a message of this conversation", approved, reply, here, approved},
		{"a message of another conversation", approved, reply, elsewhere, notFound},
		{"no such message", approved, reply, nil, notFound},
		{"already refused stays refused", notMember, reply, nil, notMember},
	} {
		if got := moderation.DecideReply(tc.d, here, tc.repliedIn, tc.m); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
