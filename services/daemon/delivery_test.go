package daemon_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

func TestDuplicateClientMsgIDYieldsOneMessage(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")

	for range 3 {
		send(alice, conv, "same-id", "only once")
	}
	send(alice, conv, "after", "sentinel")
	bob.WaitType("message.new", "sentinel")
	alice.WaitType("moderation.result", `"clientMsgId":"after"`)

	if n := countContaining(bob.Of("message.new"), "only once"); n != 1 {
		t.Fatalf("bob received the message %d times", n)
	}
	if n := countContaining(alice.Of("moderation.result"), `"clientMsgId":"same-id"`); n != 1 {
		t.Fatalf("alice received %d moderation results for one message", n)
	}
	h := waitHistory(t, c, conv, "bob", func(h history) bool { return len(h.Messages) >= 2 })
	if len(h.Messages) != 2 {
		t.Fatalf("history holds %d messages, want 2: %+v", len(h.Messages), h)
	}
}

// A client retrying long after the log's deduplication window still produces
// one message: consumers deduplicate on the derived message id.
func TestRetryAfterDedupWindowYieldsOneMessage(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.DedupWindow = 100 * time.Millisecond })
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	send(alice, conv, "late", "said once")
	bob.WaitType("message.new", "said once")

	// Retry until the log stores the repeat as a new event: the window passed.
	before := c.LastSeq()
	testkit.Eventually(t, 20*time.Second, "the log to accept a repeat after its window", func() bool {
		send(alice, conv, "late", "said once")
		return c.LastSeq() > before+1 // +1: the first posting's decision may land late
	})
	send(alice, conv, "late-sentinel", "sentinel")
	bob.WaitType("message.new", "sentinel")
	if n := countContaining(bob.Of("message.new"), "said once"); n != 1 {
		t.Fatalf("bob received the message %d times", n)
	}
	h := waitHistory(t, c, conv, "bob", func(h history) bool { return len(h.Messages) >= 2 })
	if len(h.Messages) != 2 {
		t.Fatalf("history holds %d messages, want 2", len(h.Messages))
	}
}

func TestRemovedMemberReceivesNothingAfterRemoval(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	side := group(t, c, "alice", "bob") // carries the sentinel to bob

	send(alice, conv, "before", "before removal")
	bob.WaitType("message.new", "before removal")
	status, body := c.Do("DELETE", "/api/chat/conversations/"+conv+"/participants/bob", c.Token("geosector", "alice", "member"), nil)
	if status != http.StatusNoContent {
		t.Fatalf("remove bob: %d %s", status, body)
	}
	bob.WaitType("member.left", `"userId":"bob"`)
	for i := range 5 {
		send(alice, conv, fmt.Sprintf("after-%d", i), "after removal")
	}
	carol.WaitFor("five messages after removal", func(testkit.Received) bool {
		return countContaining(carol.Of("message.new"), "after removal") == 5
	})
	send(alice, side, "side", "sentinel")
	bob.WaitType("message.new", "sentinel")
	if n := countContaining(bob.Of("message.new"), "after removal"); n != 0 {
		t.Fatalf("bob received %d messages posted after his removal", n)
	}
	if status, _ := c.Do("GET", "/api/chat/conversations/"+conv+"/messages", c.Token("geosector", "bob", "member"), nil); status != http.StatusForbidden {
		t.Fatalf("removed member reads history: %d", status)
	}
}

func TestNonMemberSendIsRejectedAndReachesNoOne(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, carol := connect(t, c, "alice"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob")

	send(carol, conv, "intrude", "let me in")
	res := carol.WaitType("moderation.result", `"clientMsgId":"intrude"`)
	if !contains(res.Data, `"status":"rejected"`) || !contains(res.Data, `"reason":"not_member"`) {
		t.Fatalf("moderation result: %s", res.Data)
	}
	send(alice, conv, "ok", "sentinel")
	alice.WaitType("message.new", "sentinel")
	if n := countContaining(alice.Of("message.new"), "let me in"); n != 0 {
		t.Fatal("a non-member's message was delivered")
	}
	h := waitHistory(t, c, conv, "alice", func(h history) bool { return len(h.Messages) >= 1 })
	if len(h.Messages) != 1 {
		t.Fatalf("history shows a rejected message to a member: %+v", h)
	}
}

func TestBadWordsAreRejected(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	send(alice, conv, "rude", "you IDIOT!")
	res := alice.WaitType("moderation.result", `"clientMsgId":"rude"`)
	if !contains(res.Data, `"reason":"bad_words"`) {
		t.Fatalf("moderation result: %s", res.Data)
	}
	send(alice, conv, "polite", "sentinel")
	bob.WaitType("message.new", "sentinel")
	if countContaining(bob.Of("message.new"), "IDIOT") != 0 {
		t.Fatal("a rejected message was delivered")
	}
}

func countContaining(rs []testkit.Received, s string) int {
	n := 0
	for _, r := range rs {
		if contains(r.Data, s) {
			n++
		}
	}
	return n
}

func TestReplyMustNameAMessageOfTheSameConversation(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv, other := group(t, c, "alice", "bob"), group(t, c, "alice", "bob")
	send(alice, other, "elsewhere", "in the other conversation")
	theirs := alice.WaitType("message.new", `"clientMsgId":"elsewhere"`)
	send(alice, conv, "first", "first here")
	first := alice.WaitType("message.new", `"clientMsgId":"first"`)
	id := func(r testkit.Received) string { return testkit.JSON[struct{ ID string }](t, r.Data).ID }

	reply := func(clientMsgID, replyTo string) {
		bob.Publish("chat/cmd/bob/send", map[string]string{"clientMsgId": clientMsgID, "conversationId": conv,
			"content": "re", "replyTo": replyTo})
	}
	reply("re-other", id(theirs))
	reply("re-unknown", "m0000000000000000000000000000000")
	reply("re-ok", id(first))
	for _, k := range []string{"re-other", "re-unknown"} {
		res := bob.WaitType("moderation.result", `"clientMsgId":"`+k+`"`)
		if !contains(res.Data, `"status":"rejected"`) || !contains(res.Data, `"reason":"not_found"`) {
			t.Errorf("%s: %s, want rejected not_found", k, res.Data)
		}
	}
	ok := alice.WaitType("message.new", `"clientMsgId":"re-ok"`)
	if !contains(ok.Data, `"replyTo":"`+id(first)+`"`) {
		t.Errorf("the reply does not name its message: %s", ok.Data)
	}
	if n := countContaining(alice.Of("message.new"), `"clientMsgId":"re-other"`) +
		countContaining(alice.Of("message.new"), `"clientMsgId":"re-unknown"`); n != 0 {
		t.Errorf("%d refused replies delivered", n)
	}
}
