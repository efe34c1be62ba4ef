package daemon_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

type receiptData struct {
	ConversationID, UserID, MessageID string
	MessageSeq                        uint64
}

func receipt(cl *testkit.Client, action, conv, messageID string) {
	cl.Publish("chat/cmd/"+cl.User+"/"+action, map[string]string{"conversationId": conv, "messageId": messageID})
}

// receiptOf waits for cl's delivery of typ saying user is up to messageID.
func receiptOf(t *testing.T, cl *testkit.Client, typ, user, messageID string) receiptData {
	t.Helper()
	got := cl.WaitFor(typ+" of "+user+" up to "+messageID, func(r testkit.Received) bool {
		if r.Type != typ {
			return false
		}
		d := testkit.JSON[receiptData](t, r.Data)
		return d.UserID == user && d.MessageID == messageID
	})
	if got.Topic != "chat/user/"+cl.User+"/receipts" {
		t.Fatalf("%s on %s", typ, got.Topic)
	}
	return testkit.JSON[receiptData](t, got.Data)
}

// rejectedCodes waits for n command.rejected of action to cl and returns
// their codes, sorted (refusals decided at a log position may answer after
// those refused at parsing).
func rejectedCodes(t *testing.T, cl *testkit.Client, action string, n int) []string {
	t.Helper()
	of := func() []string {
		var codes []string
		for _, r := range cl.Of("command.rejected") {
			if d := testkit.JSON[struct{ Action, Code string }](t, r.Data); d.Action == action {
				codes = append(codes, d.Code)
			}
		}
		return codes
	}
	cl.WaitFor("command.rejected", func(testkit.Received) bool { return len(of()) >= n })
	codes := of()
	slices.Sort(codes)
	return codes
}

func TestReadReceiptReachesTheSenderAndAnOlderOneChangesNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	first := posted(t, alice, bob, conv, "a1", "first")
	second := posted(t, alice, bob, conv, "a2", "second")

	receipt(bob, "read", conv, second)
	r := receiptOf(t, alice, "read.receipt", "bob", second)
	if r.ConversationID != conv || r.MessageSeq == 0 {
		t.Fatalf("read.receipt: %+v", r)
	}
	receiptOf(t, carol, "read.receipt", "bob", second) // a small group: every member
	receiptOf(t, bob, "read.receipt", "bob", second)   // and the reader's other devices

	// An older receipt, and the same again, change nothing: nothing is
	// appended, nothing delivered.
	before := c.LastSeq()
	receipt(bob, "read", conv, first)
	receipt(bob, "read", conv, second)
	receipt(bob, "delivered", conv, second) // what was read was received
	sentinelAppends(t, c, alice, conv, before)
	if n := len(alice.Of("read.receipt")) + len(alice.Of("delivery.receipt")); n != 1 {
		t.Fatalf("alice received %d receipts, want 1", n)
	}
}

func TestReceiptRefusalsAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, dave := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "dave")
	conv := group(t, c, "alice", "bob")
	other := group(t, c, "dave", "alice")
	mine := posted(t, alice, bob, conv, "a1", "in conv")
	elsewhere := posted(t, dave, alice, other, "d1", "in other")

	before := c.LastSeq()
	receipt(dave, "read", conv, mine)            // not a member
	receipt(bob, "read", conv, elsewhere)        // a message of another conversation
	receipt(bob, "delivered", conv, "m-unknown") // no such message
	receipt(bob, "read", "c-unknown", mine)      // no such conversation
	bob.Publish("chat/cmd/bob/read", []byte(`{"conversationId":"`+conv+`",`))
	bob.Publish("chat/cmd/bob/read", []byte(`{"conversationId":"`+conv+`","messageId":"a/b"}`))
	bob.Publish("chat/cmd/bob/delivered", []byte(`{"conversationId":"`+conv+`"}`))
	if got := rejectedCodes(t, dave, "read", 1); !slices.Equal(got, []string{"not_member"}) {
		t.Fatalf("dave's read rejected as %v", got)
	}
	if got := rejectedCodes(t, bob, "read", 4); !slices.Equal(got, []string{"invalid_payload", "invalid_payload", "not_found", "not_found"}) {
		t.Fatalf("bob's reads rejected as %v", got)
	}
	if got := rejectedCodes(t, bob, "delivered", 2); !slices.Equal(got, []string{"invalid_payload", "not_found"}) {
		t.Fatalf("bob's deliveries rejected as %v", got)
	}
	sentinelAppends(t, c, alice, conv, before)
	for _, cl := range []*testkit.Client{alice, bob, dave} {
		if n := len(cl.Of("read.receipt")) + len(cl.Of("delivery.receipt")); n != 0 {
			t.Fatalf("%s received %d receipts after refusals", cl.User, n)
		}
	}
}

func TestOneToOneSenderSeesSentThenDeliveredThenRead(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	status, body := c.Do("POST", "/api/chat/conversations", c.Token("geosector", "alice", "member"),
		map[string]any{"type": "one_to_one", "participantIds": []string{"bob"}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	conv := testkit.JSON[struct{ ID string }](t, body).ID

	send(alice, conv, "a1", "hi bob")
	sent := alice.WaitType("moderation.result", `"status":"approved"`)
	id := testkit.JSON[struct{ MessageID string }](t, sent.Data).MessageID
	bob.WaitType("message.new", "hi bob")
	receipt(bob, "delivered", conv, id)
	delivered := alice.WaitType("delivery.receipt", id)
	receipt(bob, "read", conv, id)
	read := alice.WaitType("read.receipt", id)
	if !(sent.Seq < delivered.Seq && delivered.Seq < read.Seq) {
		t.Fatalf("sent at %d, delivered at %d, read at %d", sent.Seq, delivered.Seq, read.Seq)
	}
	if d := testkit.JSON[receiptData](t, delivered.Data); d.UserID != "bob" || d.ConversationID != conv {
		t.Fatalf("delivery.receipt: %s", delivered.Data)
	}
}
