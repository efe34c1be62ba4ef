package daemon_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

func putSettings(t *testing.T, c *daemontest.Chat, user string, doc any) []byte {
	t.Helper()
	status, body := c.Do("PUT", "/api/chat/users/me/settings", c.Token("geosector", user, "member"), doc)
	if status != http.StatusOK {
		t.Fatalf("PUT settings of %s: %d %s", user, status, body)
	}
	return body
}

func TestSettingsReachTheUsersOtherConnections(t *testing.T) {
	c := daemontest.Chatd(t)
	phone, laptop := connect(t, c, "bob"), connect(t, c, "bob")
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	bob := c.Token("geosector", "bob", "member")
	status, body := c.Do("GET", "/api/chat/users/me/settings", bob, nil)
	if status != http.StatusOK || strings.TrimSpace(string(body)) != `{"mutedConversations":[],"notifications":{"enabled":true}}` {
		t.Fatalf("default settings: %d %s", status, body)
	}
	doc := map[string]any{"mutedConversations": []string{conv, conv}, "notifications": map[string]bool{"enabled": true}}
	putSettings(t, c, "bob", doc)
	for _, cl := range []*testkit.Client{phone, laptop} {
		cl.WaitType("settings.changed", `"mutedConversations":["`+conv+`"]`)
	}
	status, body = c.Do("GET", "/api/chat/users/me/settings", bob, nil)
	if status != http.StatusOK || !contains(body, `"mutedConversations":["`+conv+`"]`) {
		t.Fatalf("settings after the change: %d %s", status, body)
	}
	// The same document again changes nothing.
	before := c.LastSeq()
	putSettings(t, c, "bob", doc)
	if c.LastSeq() != before {
		t.Fatal("the same settings appended an event")
	}
	// Nobody else hears of bob's settings.
	fenced(t, c, alice, conv, "settings-fence")
	if n := len(alice.Of("settings.changed")); n != 0 {
		t.Fatalf("alice got %d of bob's settings changes", n)
	}
}

func TestSettingsRefuseBadInputAndAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	bob := c.Token("geosector", "bob", "member")
	mine := group(t, c, "bob", "alice")
	theirs := group(t, c, "carol", "dave")
	ok := map[string]bool{"enabled": true}
	many := make([]string, 501)
	for i := range many {
		many[i] = "c" + itoa(uint64(i))
	}
	before := c.LastSeq()
	cases := []struct {
		name, token string
		body        any
		status      int
		code        string
	}{
		{"no token", "", map[string]any{"mutedConversations": []string{}, "notifications": ok}, 401, "unauthenticated"},
		{"missing notifications", bob, map[string]any{"mutedConversations": []string{}}, 400, "invalid_payload"},
		{"missing enabled", bob, map[string]any{"mutedConversations": []string{}, "notifications": map[string]any{}}, 400, "invalid_payload"},
		{"missing muted", bob, map[string]any{"notifications": ok}, 400, "invalid_payload"},
		{"unknown field", bob, map[string]any{"mutedConversations": []string{}, "notifications": ok, "theme": "dark"}, 400, "invalid_payload"},
		{"unknown preference", bob, map[string]any{"mutedConversations": []string{}, "notifications": map[string]any{"enabled": true, "sms": true}}, 400, "invalid_payload"},
		{"wrong type", bob, map[string]any{"mutedConversations": "all", "notifications": ok}, 400, "invalid_payload"},
		{"bad id", bob, map[string]any{"mutedConversations": []string{"a/b"}, "notifications": ok}, 400, "invalid_payload"},
		{"too many", bob, map[string]any{"mutedConversations": many, "notifications": ok}, 413, "too_large"},
		{"unknown conversation", bob, map[string]any{"mutedConversations": []string{mine, "nope"}, "notifications": ok}, 404, "not_found"},
		{"someone else's conversation", bob, map[string]any{"mutedConversations": []string{theirs}, "notifications": ok}, 404, "not_found"},
		{"another app's token", c.Token("resalice", "bob", "member"), map[string]any{"mutedConversations": []string{mine}, "notifications": ok}, 404, "not_found"},
		{"malformed JSON", bob, []byte(`{"mutedConversations":[`), 400, "invalid_payload"},
		{"oversized body", bob, []byte(`{"mutedConversations":["` + strings.Repeat("a", 100<<10) + `"]}`), 413, "too_large"},
	}
	for _, tc := range cases {
		status, body := c.Do("PUT", "/api/chat/users/me/settings", tc.token, tc.body)
		if status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"no upTo", map[string]any{}},
		{"zero", map[string]any{"upTo": 0}},
		{"negative", map[string]any{"upTo": -1}},
		{"past the log", map[string]any{"upTo": 1 << 40}},
		{"not a number", map[string]any{"upTo": "all"}},
	} {
		status, body := c.Do("POST", "/api/chat/users/me/notifications/read", bob, tc.body)
		if status != http.StatusBadRequest || !contains(body, `"code":"invalid_payload"`) {
			t.Errorf("mark read, %s: got %d %s", tc.name, status, body)
		}
	}
	if status, body := c.Do("GET", "/api/chat/users/me/notifications?before=x", bob, nil); status != http.StatusBadRequest {
		t.Errorf("bad cursor: %d %s", status, body)
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}
}

type notifications struct {
	Notifications []struct {
		Seq          uint64
		Read         bool
		Notification struct{ Type, ConversationID, GroupID string }
	}
	UnreadConversations []struct {
		ConversationID string
		Unread         int
	}
}

func notificationsOf(t *testing.T, c *daemontest.Chat, user string, minSeq uint64) notifications {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/users/me/notifications?minSeq="+itoa(minSeq), c.Token("geosector", user, "member"), nil)
	if status != http.StatusOK {
		t.Fatalf("notifications of %s: %d %s", user, status, body)
	}
	return testkit.JSON[notifications](t, body)
}

func TestMutedConversationsMakeNoNotifications(t *testing.T) {
	c := daemontest.Chatd(t)
	aliceCl, bobCl := connect(t, c, "alice"), connect(t, c, "bob")
	alice := c.Token("geosector", "alice", "member")
	muted, loud := group(t, c, "alice", "bob"), group(t, c, "alice", "bob")
	bobCl.WaitType("notification.new", `"conversationId":"`+loud+`"`)
	putSettings(t, c, "bob", map[string]any{"mutedConversations": []string{muted}, "notifications": map[string]bool{"enabled": true}})
	mutedAt := bobCl.WaitType("settings.changed", muted).Seq

	// Removed and added again, bob is told of the loud one only; a message
	// in each leaves only the loud one unread among his notifications.
	for _, conv := range []string{muted, loud} {
		path := "/api/chat/conversations/" + conv + "/participants"
		if status, body := c.Do("DELETE", path+"/bob", alice, nil); status != http.StatusNoContent {
			t.Fatalf("remove bob: %d %s", status, body)
		}
		if status, body := c.Do("POST", path, alice, map[string]string{"userId": "bob"}); status != http.StatusOK {
			t.Fatalf("add bob: %d %s", status, body)
		}
		bobCl.WaitType("member.joined", conv)
	}
	posted(t, aliceCl, bobCl, muted, "m1", "in the muted one")
	last := c.LastSeq()
	posted(t, aliceCl, bobCl, loud, "m2", "in the loud one")
	last = max(last, bobCl.WaitType("message.new", "in the loud one").Seq)
	fenced(t, c, bobCl, loud, "notify-fence")
	for _, n := range bobCl.Of("notification.new") {
		if n.Seq > mutedAt && strings.Contains(string(n.Data), muted) {
			t.Fatalf("bob was notified of the muted conversation: %s", n.Data)
		}
	}
	if n := len(bobCl.Of("notification.new")); n != 3 {
		t.Fatalf("bob got %d notifications, want 3 (two creations, one re-add)", n)
	}
	got := notificationsOf(t, c, "bob", last)
	if len(got.Notifications) != 3 || got.Notifications[0].Notification.ConversationID != loud || got.Notifications[0].Read {
		t.Fatalf("bob's records: %+v", got.Notifications)
	}
	if len(got.UnreadConversations) != 1 || got.UnreadConversations[0].ConversationID != loud || got.UnreadConversations[0].Unread != 1 {
		t.Fatalf("bob's unread conversations: %+v", got.UnreadConversations)
	}

	// Marking read reaches his devices and the records; again, nothing.
	upTo := got.Notifications[0].Seq
	status, body := c.Do("POST", "/api/chat/users/me/notifications/read", c.Token("geosector", "bob", "member"), map[string]uint64{"upTo": upTo})
	if status != http.StatusOK {
		t.Fatalf("mark read: %d %s", status, body)
	}
	bobCl.WaitType("notifications.read", `"upTo":`+itoa(upTo))
	marked := c.LastSeq()
	if status, _ := c.Do("POST", "/api/chat/users/me/notifications/read", c.Token("geosector", "bob", "member"), map[string]uint64{"upTo": upTo - 1}); status != http.StatusOK || c.LastSeq() != marked {
		t.Fatalf("an older mark: %d, log %d → %d", status, marked, c.LastSeq())
	}
	for _, n := range notificationsOf(t, c, "bob", marked).Notifications {
		if !n.Read {
			t.Fatalf("record %d unread after the mark up to %d", n.Seq, upTo)
		}
	}

	// Notifications off: none, not even for the loud conversation.
	putSettings(t, c, "bob", map[string]any{"mutedConversations": []string{}, "notifications": map[string]bool{"enabled": false}})
	third := group(t, c, "alice", "bob")
	bobCl.WaitType("conversation.created", third)
	fenced(t, c, bobCl, third, "off-fence")
	if n := len(bobCl.Of("notification.new")); n != 3 {
		t.Fatalf("bob, notifications off, got %d notifications, want still 3", n)
	}
	if got := notificationsOf(t, c, "bob", c.LastSeq()); len(got.UnreadConversations) != 0 {
		t.Fatalf("notifications off, unread conversations still listed: %+v", got.UnreadConversations)
	}
}
