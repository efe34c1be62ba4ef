package daemon_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

func TestModerationRulesAreEventsInForceFromTheirPosition(t *testing.T) {
	c := daemontest.Chatd(t)
	admin := c.Token("geosector", "boss", "admin")
	// The configured rules were recorded at start: GET shows them.
	status, body := c.Do("GET", "/api/chat/moderation/rules", admin, nil)
	var rules events.ModerationRules
	if status != http.StatusOK || json.Unmarshal(body, &rules) != nil || !rules.Enabled || !strings.Contains(string(body), `"idiot"`) {
		t.Fatalf("GET rules: %d %s", status, body)
	}
	conv := group(t, c, "alice", "bob")
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	send(alice, conv, "before", "tu es nul, crétin")
	alice.Until("the first message approved", func() bool { return moderated(alice, "before") == "approved" })

	status, body = c.Do("PUT", "/api/chat/moderation/rules", admin, map[string]any{
		"enabled": true, "badWords": []string{"crétin"}, "urlLimit": 1})
	if status != http.StatusOK || !strings.Contains(string(body), `"floodWindowSeconds":10`) {
		t.Fatalf("PUT rules: %d %s", status, body)
	}
	send(alice, conv, "after", "tu es nul, CRETIN")
	send(alice, conv, "links", "https://a.example https://b.example")
	send(alice, conv, "fine", "idiot is no longer on the list")
	alice.Until("three decisions", func() bool {
		return moderated(alice, "after") != "" && moderated(alice, "links") != "" && moderated(alice, "fine") != ""
	})
	for id, want := range map[string]string{"after": "rejected bad_words", "links": "rejected too_many_urls", "fine": "approved"} {
		if got := moderated(alice, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	bob.Until("the approved messages", func() bool { return len(bob.Of("message.new")) == 2 })
}

// moderated is "status reason" of clientMsgID's moderation.result to cl
// ("approved" alone), empty before it arrives.
func moderated(cl *testkit.Client, clientMsgID string) string {
	for _, m := range cl.Of("moderation.result") {
		var r struct{ ClientMsgID, Status, Reason string }
		if json.Unmarshal(m.Data, &r) == nil && r.ClientMsgID == clientMsgID {
			return strings.TrimSpace(r.Status + " " + r.Reason)
		}
	}
	return ""
}

func TestModerationRulesBadInputAppendsNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	admin := c.Token("geosector", "boss", "admin")
	before := c.LastSeq()
	for _, tc := range []struct {
		name, token string
		body        any
		status      int
		code        string
	}{
		{"a member", c.Token("geosector", "alice", "member"), map[string]any{"enabled": true}, 403, "forbidden"},
		{"unknown field", admin, map[string]any{"enabled": true, "banEveryone": true}, 400, "invalid_payload"},
		{"flood out of range", admin, map[string]any{"floodLimit": 100000}, 400, "invalid_payload"},
		{"negative url limit", admin, map[string]any{"urlLimit": -1}, 400, "invalid_payload"},
		{"threshold above 1", admin, map[string]any{"repetitionThreshold": 2}, 400, "invalid_payload"},
		{"unknown action", admin, map[string]any{"badWordsAction": "ban"}, 400, "invalid_payload"},
		{"unknown content type", admin, map[string]any{"contentTypes": []string{"video"}}, 400, "invalid_payload"},
		{"too many words", admin, map[string]any{"badWords": make([]string, events.MaxBadWords+1)}, 400, "invalid_payload"},
		{"an array", admin, []any{}, 400, "invalid_payload"},
		{"a string for a number", admin, map[string]any{"floodLimit": "5"}, 400, "invalid_payload"},
		{"holding without a review queue", admin, map[string]any{"holdAll": true}, 400, "unsupported"},
		{"holding bad words", admin, map[string]any{"badWordsAction": "hold"}, 400, "unsupported"},
	} {
		status, body := c.Do("PUT", "/api/chat/moderation/rules", tc.token, tc.body)
		if status != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if status, body := c.Do("GET", "/api/chat/moderation/rules", c.Token("geosector", "alice", "member"), nil); status != 403 {
		t.Errorf("a member's GET: %d %s", status, body)
	}
	if after := c.LastSeq(); after != before {
		t.Fatalf("refused changes appended %d events", after-before)
	}
	// The rules in force again: nothing appended.
	_, current := c.Do("GET", "/api/chat/moderation/rules", admin, nil)
	if status, body := c.Do("PUT", "/api/chat/moderation/rules", admin, []byte(current)); status != http.StatusOK {
		t.Fatalf("PUT the current rules: %d %s", status, body)
	}
	if after := c.LastSeq(); after != before {
		t.Fatal("the rules in force, put again, appended an event")
	}
}
