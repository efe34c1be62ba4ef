package daemon_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

type changed struct {
	ID, ClientMsgID, SenderID, Content, ModerationStatus string
	EditedAt, DeletedAt                                  *time.Time
	Seq                                                  uint64
}

type historyOf struct{ Messages []changed }

// posted sends content from cl and returns the message id, once to has it.
func posted(t *testing.T, cl, to *testkit.Client, conv, clientMsgID, content string) string {
	t.Helper()
	send(cl, conv, clientMsgID, content)
	return testkit.JSON[changed](t, to.WaitType("message.new", content).Data).ID
}

func edit(cl *testkit.Client, clientMsgID, messageID, content string) {
	cl.Publish("chat/cmd/"+cl.User+"/edit", map[string]string{"clientMsgId": clientMsgID, "messageId": messageID, "content": content})
}

func del(cl *testkit.Client, clientMsgID, messageID string) {
	cl.Publish("chat/cmd/"+cl.User+"/delete", map[string]string{"clientMsgId": clientMsgID, "messageId": messageID})
}

// refused waits for cl's command.rejected of clientMsgID and checks its code.
func refused(t *testing.T, cl *testkit.Client, action, clientMsgID, code string) {
	t.Helper()
	got := cl.WaitType("command.rejected", `"clientMsgId":"`+clientMsgID+`"`)
	r := testkit.JSON[struct{ Action, Code string }](t, got.Data)
	if r.Action != action || r.Code != code {
		t.Fatalf("%s %s rejected as %s %s, want %s", action, clientMsgID, r.Action, r.Code, code)
	}
}

func messageIn(t *testing.T, c *daemontest.Chat, conv, user, id string, minSeq uint64) changed {
	t.Helper()
	status, body := c.Do("GET", "/api/chat/conversations/"+conv+"/messages?minSeq="+itoa(minSeq), c.Token("geosector", user, "member"), nil)
	if status != http.StatusOK {
		t.Fatalf("history: %d %s", status, body)
	}
	for _, m := range testkit.JSON[historyOf](t, body).Messages {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s not in history %s", id, body)
	return changed{}
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func TestAuthorEditsOwnMessageAndMembersSeeIt(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	id := posted(t, bob, carol, conv, "b1", "helo")

	edit(bob, "e1", id, "hello, edited")
	got := carol.WaitType("message.edited", "hello, edited")
	m := testkit.JSON[changed](t, got.Data)
	if m.ID != id || m.ClientMsgID != "b1" || m.SenderID != "bob" || m.EditedAt == nil || m.DeletedAt != nil ||
		m.ModerationStatus != "approved" || m.Seq == 0 {
		t.Fatalf("message.edited: %s", got.Data)
	}
	alice.WaitType("message.edited", "hello, edited")
	bob.WaitType("message.edited", "hello, edited")
	// The read model keeps microseconds.
	if h := messageIn(t, c, conv, "alice", id, got.Seq); h.Content != "hello, edited" || h.EditedAt == nil || h.EditedAt.Sub(*m.EditedAt).Abs() >= time.Microsecond {
		t.Fatalf("history after the edit: %+v", h)
	}

	// The same edit again (a QoS 1 redelivery) is one edit: a marker in
	// the same conversation arrives after whatever it could have caused.
	before := c.LastSeq()
	edit(bob, "e1", id, "hello, edited")
	posted(t, alice, carol, conv, "marker-1", "marker one")
	if n := len(carol.Of("message.edited")); n != 1 {
		t.Fatalf("carol received %d message.edited, want 1", n)
	}
	if got := c.LastSeq(); got != before+2 {
		t.Fatalf("the repeated edit appended: log grew by %d, want 2 (the marker's)", got-before)
	}
}

func TestEditAndDeleteRefusalsAppendNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol, dave := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol"), connect(t, c, "dave")
	conv := group(t, c, "alice", "bob", "carol")
	other := group(t, c, "dave", "erin")
	bobs := posted(t, bob, carol, conv, "b1", "bob's words")
	daves := posted(t, dave, dave, other, "d1", "dave's words")

	before := c.LastSeq()
	edit(carol, "c1", bobs, "carol's words")
	refused(t, carol, "edit", "c1", "forbidden")
	del(carol, "c2", bobs)
	refused(t, carol, "delete", "c2", "forbidden")
	edit(alice, "a1", bobs, "the admin's words")
	refused(t, alice, "edit", "a1", "forbidden")
	edit(bob, "b2", "m-unknown", "x")
	refused(t, bob, "edit", "b2", "not_found")
	edit(bob, "b3", daves, "x") // a message of a conversation bob is not in
	refused(t, bob, "edit", "b3", "not_member")
	del(dave, "d2", bobs)
	refused(t, dave, "delete", "d2", "not_member")
	edit(bob, "b4", bobs, "   ")
	refused(t, bob, "edit", "b4", "invalid_payload")
	edit(bob, "b5", bobs, strings.Repeat("x", 8001))
	refused(t, bob, "edit", "b5", "too_large")
	bob.Publish("chat/cmd/bob/edit", []byte(`{"clientMsgId":"b6","messageId":`))
	bob.WaitType("command.rejected", `"action":"edit"`)
	sentinelAppends(t, c, alice, conv, before)
	for _, cl := range []*testkit.Client{alice, bob, carol} {
		if n := len(cl.Of("message.edited")) + len(cl.Of("message.deleted")); n != 0 {
			t.Fatalf("%s received %d changes after refusals", cl.User, n)
		}
	}
}

func TestAdminDeletesAnotherssMessageLeavingATombstone(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob, carol := connect(t, c, "alice"), connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	id := posted(t, bob, carol, conv, "b1", "regrettable words")

	del(alice, "a1", id)
	got := carol.WaitFor("message.deleted", func(r testkit.Received) bool { return r.Type == "message.deleted" })
	m := testkit.JSON[changed](t, got.Data)
	if m.ID != id || m.ClientMsgID != "b1" || m.SenderID != "bob" || m.DeletedAt == nil || m.Content != "" || m.EditedAt != nil {
		t.Fatalf("message.deleted: %s", got.Data)
	}
	if strings.Contains(string(got.Data), "regrettable") {
		t.Fatalf("the tombstone carries the content: %s", got.Data)
	}
	bob.WaitFor("message.deleted", func(r testkit.Received) bool { return r.Type == "message.deleted" })
	if h := messageIn(t, c, conv, "carol", id, got.Seq); h.Content != "" || h.DeletedAt == nil {
		t.Fatalf("history after the deletion: %+v", h)
	}

	// Deleted is final: neither an edit nor a second deletion.
	before := c.LastSeq()
	edit(bob, "b2", id, "second thoughts")
	refused(t, bob, "edit", "b2", "gone")
	del(bob, "b3", id)
	refused(t, bob, "delete", "b3", "gone")
	sentinelAppends(t, c, alice, conv, before)
	if h := messageIn(t, c, conv, "bob", id, c.LastSeq()); h.Content != "" || h.DeletedAt == nil || h.EditedAt != nil {
		t.Fatalf("history after refused changes: %+v", h)
	}
}

func TestEditAndDeleteOverREST(t *testing.T) {
	c := daemontest.Chatd(t)
	bob, carol := connect(t, c, "bob"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	id := posted(t, bob, carol, conv, "b1", "first words")
	tok := func(u string) string { return c.Token("geosector", u, "member") }
	path := "/api/chat/messages/" + id

	before := c.LastSeq()
	for _, tc := range []struct {
		name, method, path, user string
		body                     any
		status                   int
		code                     string
	}{
		{"another's edit", "PUT", path, "carol", map[string]string{"content": "x"}, 403, "forbidden"},
		{"member deletes another's", "DELETE", path, "carol", nil, 403, "forbidden"},
		{"non-member", "PUT", path, "dave", map[string]string{"content": "x"}, 403, "not_member"},
		{"unknown message", "PUT", "/api/chat/messages/nope", "bob", map[string]string{"content": "x"}, 404, "not_found"},
		{"blank content", "PUT", path, "bob", map[string]string{"content": " "}, 400, "invalid_payload"},
		{"oversized content", "PUT", path, "bob", map[string]string{"content": strings.Repeat("x", 8001)}, 413, "too_large"},
		{"NUL in content", "PUT", path, "bob", map[string]string{"content": "a\x00b"}, 400, "invalid_payload"},
		{"unknown field", "PUT", path, "bob", map[string]string{"content": "x", "senderId": "carol"}, 400, "invalid_payload"},
		{"malformed", "PUT", path, "bob", []byte(`{"content":`), 400, "invalid_payload"},
		{"bad id", "DELETE", "/api/chat/messages/a.b", "bob", nil, 400, "invalid_payload"},
	} {
		if status, body := c.Do(tc.method, tc.path, tok(tc.user), tc.body); status != tc.status || !contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}

	status, body := c.Do("PUT", path, tok("bob"), map[string]string{"content": "second words"})
	if m := testkit.JSON[changed](t, body); status != http.StatusOK || m.Content != "second words" || m.EditedAt == nil {
		t.Fatalf("edit: %d %s", status, body)
	}
	carol.WaitType("message.edited", "second words")
	if status, body := c.Do("DELETE", path, tok("bob"), nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	carol.WaitFor("message.deleted", func(r testkit.Received) bool { return r.Type == "message.deleted" })
	if status, body := c.Do("PUT", path, tok("bob"), map[string]string{"content": "third"}); status != http.StatusGone || !contains(body, `"code":"gone"`) {
		t.Fatalf("edit after delete: %d %s, want 410 gone", status, body)
	}
	if status, body := c.Do("DELETE", path, tok("alice"), nil); status != http.StatusGone {
		t.Fatalf("delete after delete: %d %s, want 410 gone", status, body)
	}
	if h := messageIn(t, c, conv, "alice", id, c.LastSeq()); h.Content != "" || h.DeletedAt == nil {
		t.Fatalf("history: %+v", h)
	}
}
