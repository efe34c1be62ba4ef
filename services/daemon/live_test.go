package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

func typing(cl *testkit.Client, conv string, on bool) {
	cl.Publish("chat/cmd/"+cl.User+"/typing", map[string]any{"conversationId": conv, "typing": on})
}

func focus(cl *testkit.Client, conv string) {
	cl.Publish("chat/cmd/"+cl.User+"/focus", map[string]string{"conversationId": conv})
}

func presence(cl *testkit.Client, status string) {
	cl.Publish("chat/cmd/"+cl.User+"/presence", map[string]string{"status": status})
}

// created waits until fan-out has folded conv's creation, which live
// routing reads, by each client's conversation.created.
func created(conv string, cls ...*testkit.Client) {
	for _, cl := range cls {
		cl.WaitType("conversation.created", conv)
	}
}

func countOf(cl *testkit.Client, typ, substr string) int {
	n := 0
	for _, r := range cl.Of(typ) {
		if strings.Contains(string(r.Data), substr) {
			n++
		}
	}
	return n
}

func liveRejected(t *testing.T, cl *testkit.Client, action, code string) {
	t.Helper()
	cl.WaitFor(action+" rejected "+code, func(r testkit.Received) bool {
		return r.Type == "command.rejected" && strings.Contains(string(r.Data), `"action":"`+action+`"`) &&
			strings.Contains(string(r.Data), `"code":"`+code+`"`)
	})
}

func TestTypingReachesOnlyFocusingMembersAndIsNeverStored(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol, dave := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol"), connect(t, c, "dave")
	conv := group(t, c, "alice", "bob", "carol")
	created(conv, alice, bob, carol)
	before := c.LastSeq()

	focus(alice, conv) // the typist focuses too, and never hears itself
	focus(bob, conv)
	typing(alice, conv, true)
	bob.WaitType("typing.start", `"userId":"alice"`)

	// dave is no member: his focus and his typing are refused, and reach
	// no one. His refusals come after alice's start on the same path.
	focus(dave, conv)
	liveRejected(t, dave, "focus", "not_member")
	typing(dave, conv, true)
	liveRejected(t, dave, "typing", "not_member")

	// carol, unfocused, gets nothing of alice's start; she focuses, and
	// alice's stop, behind the start, is her marker.
	focus(carol, conv)
	typing(alice, conv, false)
	bob.WaitType("typing.stop", `"userId":"alice"`)
	carol.WaitType("typing.stop", `"userId":"alice"`)

	if n := countOf(carol, "typing.start", conv); n != 0 {
		t.Fatalf("unfocused carol got %d typing.start", n)
	}
	if n := len(alice.Of("typing.start")) + len(alice.Of("typing.stop")); n != 0 {
		t.Fatalf("the typist heard its own typing %d times", n)
	}
	for _, typ := range []string{"typing.start", "typing.stop"} {
		if n := len(dave.Of(typ)); n != 0 {
			t.Fatalf("non-member dave got %d %s", n, typ)
		}
	}
	if n := countOf(bob, "typing.start", `"userId":"dave"`); n != 0 {
		t.Fatalf("a non-member's typing reached bob %d times", n)
	}
	if after := c.LastSeq(); after != before {
		t.Fatalf("live signals appended to the log: last sequence %d → %d", before, after)
	}
}

func TestPresenceFollowsConnectionsAndFocusEndsWithIt(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	created(conv, alice, bob)
	focus(alice, conv)
	focus(bob, conv)

	// carol shares nothing with alice: she never learns alice's presence.
	carol := connect(t, c, "carol")
	other := group(t, c, "carol", "dave")
	created(other, carol)
	before := c.LastSeq()
	focus(carol, other)

	// bob's connection ends: he goes offline, and his focus ends with it.
	bob.Paho().Disconnect(0)
	alice.WaitType("presence.update", `"userId":"bob","status":"offline"`)

	// bob's new connection focuses nothing yet: alice's start passes it
	// by; her presence after it is the marker.
	bob2 := connect(t, c, "bob")
	alice.WaitType("presence.update", `"userId":"bob","status":"online"`)
	typing(alice, conv, true)
	presence(alice, "away")
	focus(bob2, conv)
	typing(alice, conv, false)
	bob2.WaitType("typing.stop", `"userId":"alice"`)
	if n := countOf(bob2, "typing.start", conv); n != 0 {
		t.Fatalf("focus outlived its connection: bob's new connection got %d typing.start", n)
	}
	if n := countOf(bob2, "presence.update", `"status":"away"`); n != 0 {
		t.Fatalf("unfocused connection got alice's presence %d times", n)
	}
	// A client's own presence command reaches those focusing with it.
	presence(bob2, "away")
	alice.WaitType("presence.update", `"userId":"bob","status":"away"`)
	if n := countOf(carol, "presence.update", `"userId":"alice"`) + countOf(carol, "presence.update", `"userId":"bob"`); n != 0 {
		t.Fatalf("carol, sharing no conversation, got %d presence updates", n)
	}
	if after := c.LastSeq(); after != before {
		t.Fatalf("presence appended to the log: last sequence %d → %d", before, after)
	}
}

func TestTypingFloodIsBoundedPerConnection(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	created(conv, alice, bob)
	focus(bob, conv)
	const flood = 60
	for range flood {
		typing(alice, conv, true)
	}
	presence(alice, "away") // the marker, behind every typing signal
	bob.WaitType("presence.update", `"status":"away"`)
	got := countOf(bob, "typing.start", conv)
	if got == 0 || got > flood/4 {
		t.Fatalf("bob got %d of %d typing signals; want a few", got, flood)
	}
}

func TestMalformedLiveCommandsAreRejected(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	before := c.LastSeq()
	for _, bad := range []struct{ action, payload string }{
		{"typing", `{"conversationId":"c1"}`},
		{"typing", `{"conversationId":"no spaces","typing":true}`},
		{"typing", `{"conversationId":"c1","typing":"yes"}`},
		{"focus", `not json`},
		{"unfocus", `{}`},
		{"presence", `{"status":"busy"}`},
	} {
		alice.Publish("chat/cmd/alice/"+bad.action, bad.payload)
	}
	for _, a := range []string{"typing", "focus", "unfocus", "presence"} {
		liveRejected(t, alice, a, "invalid_payload")
	}
	testkit.Eventually(t, 20*time.Second, "every malformed command rejected", func() bool {
		return countOf(alice, "command.rejected", "invalid_payload") == 6
	})
	if after := c.LastSeq(); after != before {
		t.Fatalf("malformed live commands appended: %d → %d", before, after)
	}
}
