package daemon_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
	cl.Until("command.rejected", func() bool { return len(of()) >= n })
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

type receiptList struct {
	Delivered, Read []struct {
		UserID string
		At     time.Time
	}
}

// receiptsOf reads GET /messages/{id}/receipts as user once the read model
// has applied minSeq.
func receiptsOf(t *testing.T, c *daemontest.Chat, user, messageID string, minSeq uint64) (answer, receiptList) {
	t.Helper()
	a, pos := read(t, c, "/messages/"+messageID+"/receipts?minSeq="+itoa(minSeq), c.Token("geosector", user, "member"))
	if a.status == http.StatusOK && pos < minSeq {
		t.Fatalf("receipts of %s: Chat-Seq %d before minSeq %d", messageID, pos, minSeq)
	}
	var l receiptList
	if a.status == http.StatusOK {
		l = testkit.JSON[receiptList](t, []byte(a.body))
	}
	return a, l
}

// sameInstant compares a time read back from the read model (microseconds)
// with the one delivered live.
func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

func TestMessageReceiptsListWhoReceivedAndReadItAndSince(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	connect(t, c, "dave")
	conv := group(t, c, "alice", "bob", "carol", "dave")
	first := posted(t, alice, bob, conv, "a1", "first")
	second := posted(t, alice, carol, conv, "a2", "second")

	// bob receives the first, then reads up to the second; carol reads the
	// first without saying it arrived; dave says nothing.
	receipt(bob, "delivered", conv, first)
	bobGot := alice.WaitType("delivery.receipt", first)
	receipt(bob, "read", conv, second)
	bobRead := alice.WaitType("read.receipt", second)
	receipt(carol, "read", conv, first)
	carolRead := alice.WaitType("read.receipt", `"userId":"carol"`)
	last := max(bobGot.Seq, bobRead.Seq, carolRead.Seq)
	at := func(r testkit.Received) time.Time { return testkit.JSON[struct{ At time.Time }](t, r.Data).At }

	type entry struct {
		user string
		at   time.Time
	}
	check := func(messageID string, delivered, read []entry) {
		t.Helper()
		a, got := receiptsOf(t, c, "dave", messageID, last) // any member may ask
		if a.status != http.StatusOK || len(got.Delivered) != len(delivered) || len(got.Read) != len(read) {
			t.Fatalf("receipts of %s: %d %s, want %d delivered and %d read", messageID, a.status, a.body, len(delivered), len(read))
		}
		for i, w := range delivered {
			if g := got.Delivered[i]; g.UserID != w.user || !sameInstant(g.At, w.at) {
				t.Errorf("receipts of %s: delivered[%d] = %s at %v, want %s at %v", messageID, i, g.UserID, g.At, w.user, w.at)
			}
		}
		for i, w := range read {
			if g := got.Read[i]; g.UserID != w.user || !sameInstant(g.At, w.at) {
				t.Errorf("receipts of %s: read[%d] = %s at %v, want %s at %v", messageID, i, g.UserID, g.At, w.user, w.at)
			}
		}
	}
	// The first: bob received it at his delivery receipt and read it with
	// the second; carol's read says she received it then too. The sender is
	// never listed.
	check(first, []entry{{"bob", at(bobGot)}, {"carol", at(carolRead)}},
		[]entry{{"bob", at(bobRead)}, {"carol", at(carolRead)}})
	// The second: only bob, who received it when he read it.
	check(second, []entry{{"bob", at(bobRead)}}, []entry{{"bob", at(bobRead)}})

	// A message nobody acknowledged yet answers two empty lists, not nulls.
	third := posted(t, bob, alice, conv, "b1", "third")
	if a, _ := receiptsOf(t, c, "bob", third, c.LastSeq()); a.status != http.StatusOK ||
		!strings.Contains(a.body, `"delivered":[]`) || !strings.Contains(a.body, `"read":[]`) {
		t.Fatalf("receipts of a fresh message: %d %s", a.status, a.body)
	}
}

func TestMessageReceiptsRefuseNonMembersAndUnknownOrHiddenMessages(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	mine := posted(t, alice, bob, conv, "a1", "hello")
	// A message moderation refused stays the sender's own.
	send(alice, conv, "a2", "you idiot")
	refusedID := testkit.JSON[struct{ MessageID string }](t, alice.WaitType("moderation.result", `"status":"rejected"`).Data).MessageID
	at := c.LastSeq()

	errorCode := func(a answer) string {
		return testkit.JSON[struct{ Error struct{ Code string } }](t, []byte(a.body)).Error.Code
	}
	for _, tc := range []struct {
		name, user, messageID string
		status                int
		code                  string
	}{
		{"a member", "bob", mine, 200, ""},
		{"not a member, as for the history", "erin", mine, 403, "not_member"},
		{"no such message", "bob", "m-unknown", 404, "not_found"},
		{"no such message, not a member", "erin", "m-unknown", 404, "not_found"},
		{"another member's refused message", "bob", refusedID, 404, "not_found"},
		{"the sender's own refused message", "alice", refusedID, 200, ""},
	} {
		a, _ := receiptsOf(t, c, tc.user, tc.messageID, at)
		if a.status != tc.status || tc.code != "" && errorCode(a) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, a.status, a.body, tc.status, tc.code)
		}
	}
	// Like every read, a position the log has not reached is refused.
	if a, _ := read(t, c, "/messages/"+mine+"/receipts?minSeq="+itoa(at+1), c.Token("geosector", "bob", "member")); a.status != http.StatusBadRequest || errorCode(a) != "invalid_payload" {
		t.Errorf("minSeq past the log: %d %s, want 400 invalid_payload", a.status, a.body)
	}
	if after := c.LastSeq(); after != at {
		t.Fatalf("reading receipts appended %d events", after-at)
	}
}

func TestReceiptsOfRefusedOrForeignMessagesAreRefusedAndRepeatsAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	hello := posted(t, alice, bob, conv, "a1", "hello")
	send(alice, conv, "a2", "you idiot")
	refusedID := testkit.JSON[struct{ MessageID string }](t, alice.WaitType("moderation.result", `"status":"rejected"`).Data).MessageID

	// A message of another application, in a conversation of that application.
	ritaTok := c.Token("resalice", "rita", "member")
	status, body := c.Do("POST", "/api/chat/conversations", ritaTok, map[string]any{"type": "group", "title": "r", "participantIds": []string{"ruth"}})
	if status != http.StatusCreated {
		t.Fatalf("resalice group: %d %s", status, body)
	}
	foreignConv := testkit.JSON[struct{ ID string }](t, body).ID
	rita := testkit.Connect(t, "tcp://"+c.MQTTAddr(), "resalice", "rita", ritaTok)
	rita.Publish("resalice/cmd/rita/send", map[string]string{"clientMsgId": "r1", "conversationId": foreignConv, "content": "elsewhere"})
	foreign := testkit.JSON[struct{ MessageID string }](t, rita.WaitType("moderation.result", `"status":"approved"`).Data).MessageID

	before := c.LastSeq()
	receipt(bob, "read", conv, refusedID)           // another member's message moderation refused
	receipt(bob, "read", conv, foreign)             // another application's message
	receipt(bob, "delivered", foreignConv, foreign) // another application's conversation
	if got := rejectedCodes(t, bob, "read", 2); !slices.Equal(got, []string{"not_found", "not_found"}) {
		t.Fatalf("bob's reads rejected as %v", got)
	}
	if got := rejectedCodes(t, bob, "delivered", 1); !slices.Equal(got, []string{"not_found"}) {
		t.Fatalf("bob's delivery rejected as %v", got)
	}
	sentinelAppends(t, c, alice, conv, before)
	for _, who := range []string{"bob", "rita"} {
		tok := c.Token("geosector", who, "member")
		if who == "rita" {
			tok = ritaTok
		}
		id := map[string]string{"bob": foreign, "rita": hello}[who]
		if a, _ := read(t, c, "/messages/"+id+"/receipts", tok); a.status != http.StatusNotFound || !strings.Contains(a.body, `"not_found"`) {
			t.Errorf("%s asks for the receipts of another application's message: %d %s", who, a.status, a.body)
		}
	}

	// The same delivery receipt twice: the second appends nothing.
	receipt(bob, "delivered", conv, hello)
	alice.WaitType("delivery.receipt", hello)
	before = c.LastSeq()
	receipt(bob, "delivered", conv, hello)
	sentinelAppends(t, c, alice, conv, before)
	if n := len(alice.Of("delivery.receipt")); n != 1 {
		t.Fatalf("alice received %d delivery receipts, want 1", n)
	}
}

// A deleted message stays in the history as a tombstone with its id, so a
// member may read up to it: refusing would leave a client whose newest
// message was just deleted unable to mark the conversation read.
func TestReadUpToADeletedMessageMovesThePositionPastIt(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	posted(t, alice, bob, conv, "a1", "hello")
	gone := posted(t, alice, bob, conv, "a2", "regretted")
	del(alice, "a2-del", gone)
	bob.WaitType("message.deleted", gone)

	receipt(bob, "read", conv, gone)
	at := alice.WaitType("read.receipt", gone).Seq
	tok := c.Token("geosector", "bob", "member")
	a, _ := read(t, c, "/conversations?minSeq="+itoa(at), tok)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"unreadCount":0`) {
		t.Fatalf("bob's conversations after reading up to the tombstone: %d %s", a.status, a.body)
	}
	a, _ = read(t, c, "/conversations/"+conv+"/participants?minSeq="+itoa(at), tok)
	if a.status != http.StatusOK || !strings.Contains(a.body, `"userId":"bob","role":"member","canReply":true,"lastReadMessageId":"`+gone+`"`) {
		t.Fatalf("participants: %d %s", a.status, a.body)
	}
}
