package daemon_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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
	alice.Until("the first message approved", func() bool { return resultOf(alice, "before") == "approved" })

	status, body = c.Do("PUT", "/api/chat/moderation/rules", admin, map[string]any{
		"enabled": true, "badWords": []string{"crétin"}, "urlLimit": 1})
	if status != http.StatusOK || !strings.Contains(string(body), `"floodWindowSeconds":10`) {
		t.Fatalf("PUT rules: %d %s", status, body)
	}
	send(alice, conv, "after", "tu es nul, CRETIN")
	send(alice, conv, "links", "https://a.example https://b.example")
	send(alice, conv, "fine", "idiot is no longer on the list")
	alice.Until("three decisions", func() bool {
		return resultOf(alice, "after") != "" && resultOf(alice, "links") != "" && resultOf(alice, "fine") != ""
	})
	for id, want := range map[string]string{"after": "rejected bad_words", "links": "rejected too_many_urls", "fine": "approved"} {
		if got := resultOf(alice, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	bob.Until("the approved messages", func() bool { return len(bob.Of("message.new")) == 2 })
}

// resultOf is "status reason" of clientMsgID's moderation.result to cl
// ("approved" alone), empty before it arrives.
func resultOf(cl *testkit.Client, clientMsgID string) string {
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
	expectRefusals(t, c, "PUT", "/api/chat/moderation/rules", []refusal{
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
	})
	expectRefusals(t, c, "GET", "/api/chat/moderation/rules", []refusal{{"a member", c.Token("geosector", "alice", "member"), nil, 403, "forbidden"}})
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

func TestHeldMessagesWaitForAReview(t *testing.T) {
	c := daemontest.Chatd(t)
	admin := c.Token("geosector", "boss", "admin")
	if status, body := c.Do("PUT", "/api/chat/moderation/rules", admin, map[string]any{
		"enabled": true, "badWords": []string{"crétin"}, "badWordsAction": "hold"}); status != http.StatusOK {
		t.Fatalf("PUT rules: %d %s", status, body)
	}
	conv := group(t, c, "alice", "bob")
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	send(alice, conv, "held", "quel crétin ce chat")
	send(alice, conv, "held2", "encore un crétin")
	send(alice, conv, "plain", "hello")
	alice.Until("three decisions", func() bool {
		return resultOf(alice, "held") != "" && resultOf(alice, "held2") != "" && resultOf(alice, "plain") != ""
	})
	if got := resultOf(alice, "held"); got != "pending bad_words" {
		t.Fatalf("held: %q", got)
	}
	// Held messages are the sender's and the moderators' only.
	bob.Until("the plain message", func() bool { return len(bob.Of("message.new")) == 1 })
	_, hist := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("geosector", "bob", "member"), nil)
	if strings.Contains(string(hist), "crétin") {
		t.Fatalf("bob's history shows a held message: %s", hist)
	}
	testkit.Eventually(t, 10*time.Second, "the queue holds both", func() bool {
		_, body := c.Do("GET", "/api/chat/moderation/queue", admin, nil)
		return strings.Count(string(body), `"moderationStatus":"pending"`) == 2
	})
	status, body := c.Do("GET", "/api/chat/moderation/queue?limit=1", admin, nil)
	var queue struct {
		Messages []struct{ ID, Content, ModerationStatus string }
		HasMore  bool
		Next     uint64
	}
	if status != http.StatusOK || json.Unmarshal(body, &queue) != nil || len(queue.Messages) != 1 || !queue.HasMore ||
		queue.Messages[0].Content != "quel crétin ce chat" || queue.Messages[0].ModerationStatus != "pending" {
		t.Fatalf("queue: %d %s", status, body)
	}
	held := queue.Messages[0].ID
	_, body = c.Do("GET", "/api/chat/moderation/queue?after="+strconv.FormatUint(queue.Next, 10), admin, nil)
	var rest struct{ Messages []struct{ ID string } }
	if json.Unmarshal(body, &rest) != nil || len(rest.Messages) != 1 {
		t.Fatalf("the queue's second page: %s", body)
	}
	held2 := rest.Messages[0].ID

	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"a member reviews", "/api/chat/moderation/queue/" + held + "/approve", c.Token("geosector", "bob", "member"), 403, "forbidden"},
		{"a member lists", "/api/chat/moderation/queue", c.Token("geosector", "bob", "member"), 403, "forbidden"},
		{"an unknown message", "/api/chat/moderation/queue/nope/approve", admin, 404, "not_found"},
		{"another application's admin", "/api/chat/moderation/queue/" + held + "/approve", c.Token("resalice", "boss", "admin"), 404, "not_found"},
		{"an approved message", "/api/chat/moderation/queue/" + events.MessageID("geosector", "alice", "plain") + "/reject", admin, 409, "conflict"},
		{"a bad id", "/api/chat/moderation/queue/a.b/approve", admin, 400, "invalid_payload"},
	} {
		method := "POST"
		if strings.HasSuffix(tc.path, "/queue") {
			method = "GET"
		}
		status, body := c.Do(method, tc.path, tc.token, nil)
		if status != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}

	if status, body := c.Do("POST", "/api/chat/moderation/queue/"+held+"/approve", admin, nil); status != http.StatusOK ||
		!strings.Contains(string(body), `"status":"approved"`) {
		t.Fatalf("approve: %d %s", status, body)
	}
	if status, body := c.Do("POST", "/api/chat/moderation/queue/"+held+"/reject", admin, nil); status != http.StatusConflict {
		t.Fatalf("a second review: %d %s", status, body)
	}
	if status, body := c.Do("POST", "/api/chat/moderation/queue/"+held2+"/reject", admin, nil); status != http.StatusOK ||
		!strings.Contains(string(body), `"reason":"manual"`) {
		t.Fatalf("reject: %d %s", status, body)
	}
	bob.Until("the approved message", func() bool { return len(bob.Of("message.new")) == 2 })
	alice.Until("both reviews", func() bool {
		n := 0
		for _, m := range alice.Of("moderation.result") {
			if strings.Contains(string(m.Data), `"status":"approved"`) && strings.Contains(string(m.Data), `"clientMsgId":"held"`) ||
				strings.Contains(string(m.Data), `"reason":"manual"`) {
				n++
			}
		}
		return n == 2
	})
	if got := bob.Of("message.new"); !strings.Contains(string(got[1].Data), "quel crétin ce chat") {
		t.Fatalf("bob's second message: %s", got[1].Data)
	}
	_, body = c.Do("GET", "/api/chat/moderation/queue", admin, nil)
	if strings.Contains(string(body), `"id"`) {
		t.Fatalf("the queue after the reviews: %s", body)
	}
	// Sync agrees with what was delivered: bob's catch-up has both messages.
	_, body = c.Do("GET", "/api/chat/sync?since=0", c.Token("geosector", "bob", "member"), nil)
	if strings.Count(string(body), `"type":"message.new"`) != 2 || strings.Contains(string(body), "encore") {
		t.Fatalf("bob's sync: %s", body)
	}
}
