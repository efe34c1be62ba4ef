package daemon_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// group creates a group as admin with members and returns its id.
func group(t *testing.T, c *daemontest.Chat, admin string, members ...string) string {
	t.Helper()
	status, body := c.Do("POST", "/api/chat/conversations", c.Token("geosector", admin, "member"),
		map[string]any{"type": "group", "title": "team", "participantIds": members})
	switch status {
	case http.StatusCreated:
	case http.StatusAccepted:
		// In the log, not yet in the read model (a short CHAT_WRITE_WAIT on
		// a busy machine): the tests that follow read it, so wait for it.
		created := testkit.JSON[struct {
			ID  string
			Seq uint64
		}](t, body)
		testkit.Eventually(t, 30*time.Second, "the group in the read model", func() bool {
			status, _ := c.Do("GET", "/api/chat/conversations/"+created.ID+"?minSeq="+strconv.FormatUint(created.Seq, 10),
				c.Token("geosector", admin, "member"), nil)
			return status == http.StatusOK
		})
		return created.ID
	default:
		t.Fatalf("create group: %d %s", status, body)
	}
	return testkit.JSON[struct{ ID string }](t, body).ID
}

func connect(t *testing.T, c *daemontest.Chat, user string) *testkit.Client {
	return testkit.Connect(t, "tcp://"+c.MQTTAddr(), "chat", user, c.Token("geosector", user, "member"))
}

func send(cl *testkit.Client, conv, clientMsgID, content string) {
	cl.Publish("chat/cmd/"+cl.User+"/send", map[string]string{
		"clientMsgId": clientMsgID, "conversationId": conv, "content": content, "contentType": "text"})
}

type history struct {
	Messages []struct {
		ID, ClientMsgID, SenderID, Content, ModerationStatus string
		Seq                                                  uint64
	}
}

func TestMessageTravelsEndToEnd(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob")
	other := group(t, c, "carol", "alice") // carol's own group, for a sentinel

	send(alice, conv, "m-1", "hello bob")
	got := bob.WaitType("message.new", "hello bob")
	if got.Seq == 0 {
		t.Fatalf("message.new without seq: %+v", got)
	}
	if got.Topic != "chat/user/bob/messages" {
		t.Fatalf("delivered on %s", got.Topic)
	}
	alice.WaitType("moderation.result", `"status":"approved"`)

	// The sentinel is delivered after the first message in log order: once
	// carol has it, she would have had the first one too.
	send(alice, other, "m-2", "sentinel for carol")
	carol.WaitType("message.new", "sentinel for carol")
	for _, r := range carol.Of("message.new") {
		if r.Seq <= got.Seq || !contains(r.Data, "sentinel") {
			t.Fatalf("carol received a message of a conversation she is not in: %s", r.Data)
		}
	}

	// The read model catches up with the log independently of deliveries.
	for _, user := range []string{"alice", "bob"} {
		h := waitHistory(t, c, conv, user, func(h history) bool {
			return len(h.Messages) == 1 && h.Messages[0].ModerationStatus == "approved"
		})
		if m := testkit.JSON[struct{ Seq uint64 }](t, got.Data); h.Messages[0].Content != "hello bob" || h.Messages[0].Seq != m.Seq {
			t.Fatalf("%s history: %+v", user, h)
		}
	}
	status, body := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("geosector", "carol", "member"), nil)
	if status != http.StatusForbidden {
		t.Fatalf("carol history: want 403, got %d %s", status, body)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// waitHistory polls a member's history until ok holds.
func waitHistory(t *testing.T, c *daemontest.Chat, conv, user string, ok func(history) bool) history {
	t.Helper()
	var h history
	testkit.Eventually(t, 20*time.Second, user+"'s history of "+conv, func() bool {
		status, body := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("geosector", user, "member"), nil)
		if status != http.StatusOK {
			t.Fatalf("%s history: %d %s", user, status, body)
		}
		h = testkit.JSON[history](t, body)
		return ok(h)
	})
	return h
}
