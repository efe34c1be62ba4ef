package daemon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

type syncPage struct {
	Events  []json.RawMessage
	Next    uint64
	HasMore bool
}

// syncFrom follows user's GET /sync pages from since, each read once the
// read model has applied minSeq, and returns every envelope.
func syncFrom(t *testing.T, c *daemontest.Chat, user string, since, minSeq uint64, limit int) [][]byte {
	t.Helper()
	var out [][]byte
	for range 1000 {
		path := fmt.Sprintf("/api/chat/sync?since=%d&limit=%d&minSeq=%d", since, limit, minSeq)
		status, body := c.Do("GET", path, c.Token("geosector", user, "member"), nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		page := testkit.JSON[syncPage](t, body)
		for _, e := range page.Events {
			out = append(out, e)
		}
		if !page.HasMore {
			return out
		}
		since = page.Next
	}
	t.Fatal("sync never ends")
	return nil
}

// online is what cl received after since: the log's deliveries (not
// command.rejected, typing, presence), each once (QoS 1 may repeat one).
func online(cl *testkit.Client, since uint64) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	for _, r := range cl.Received() {
		key := fmt.Sprint(r.Seq, r.Type)
		if r.Seq <= since || seen[key] || r.Type == "command.rejected" {
			continue
		}
		seen[key] = true
		out = append(out, r.Payload)
	}
	return out
}

// sameEnvelopes compares byte for byte, except that a message deleted since
// (deleted) has empty content in sync's message.new and message.edited.
func sameEnvelopes(t *testing.T, synced, live [][]byte, deleted map[string]bool) {
	t.Helper()
	if len(synced) != len(live) {
		t.Fatalf("sync gave %d envelopes, the online client got %d\nsync:   %s\nonline: %s", len(synced), len(live), bytes.Join(synced, []byte("\n        ")), bytes.Join(live, []byte("\n        ")))
	}
	for i := range live {
		if bytes.Equal(synced[i], live[i]) {
			continue
		}
		var s, l map[string]any
		_ = json.Unmarshal(synced[i], &s)
		_ = json.Unmarshal(live[i], &l)
		if d, ok := l["data"].(map[string]any); ok && (l["type"] == "message.new" || l["type"] == "message.edited") && deleted[fmt.Sprint(d["id"])] {
			d["content"] = ""
		}
		if !reflect.DeepEqual(s, l) {
			t.Fatalf("envelope %d differs\nsync:   %s\nonline: %s", i, synced[i], live[i])
		}
	}
}

func TestOfflineClientCatchesUpWithSyncExactlyAsOneThatStayedOnline(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	carolOnline, carolOffline := connect(t, c, "carol"), connect(t, c, "carol")
	conv := group(t, c, "alice", "bob", "carol")
	send(alice, conv, "a1", "first")
	cursor := carolOffline.WaitType("message.new", "first").Seq
	carolOffline.Paho().Disconnect(0)

	// Traffic while one of carol's devices is away.
	second := posted(t, alice, carolOnline, conv, "a2", "second")
	third := posted(t, alice, carolOnline, conv, "a3", "third")
	send(carolOnline, conv, "c1", "from carol")
	carolOnline.WaitType("moderation.result", `"clientMsgId":"c1"`)
	edit(alice, "e1", second, "second, edited")
	carolOnline.WaitType("message.edited", "second, edited")
	del(alice, "d1", third)
	carolOnline.WaitType("message.deleted", third)
	receipt(bob, "read", conv, second)
	receipt(carolOnline, "delivered", conv, third)
	receiptOf(t, carolOnline, "read.receipt", "bob", second)
	receiptOf(t, carolOnline, "delivery.receipt", "carol", third)
	admin := c.Token("geosector", "alice", "member")
	path := "/api/chat/conversations/" + conv + "/participants"
	if status, body := c.Do("POST", path, admin, map[string]any{"userId": "dave"}); status >= 300 {
		t.Fatalf("add dave: %d %s", status, body)
	}
	carolOnline.WaitType("member.joined", `"userId":"dave"`)
	posted(t, alice, carolOnline, conv, "a4", "while dave is in")
	if status, body := c.Do("DELETE", path+"/dave", admin, nil); status >= 300 {
		t.Fatalf("remove dave: %d %s", status, body)
	}
	carolOnline.WaitType("member.left", `"userId":"dave"`)
	send(alice, conv, "a5", "after dave left")
	last := carolOnline.WaitType("message.new", "after dave left").Seq

	synced := syncFrom(t, c, "carol", cursor, last, 3)
	sameEnvelopes(t, synced, online(carolOnline, cursor), map[string]bool{third: true})

	// dave, never connected, learns only what happened while a member:
	// his join (and the notification of it), the message of then, his
	// leave; nothing after.
	daves := syncFrom(t, c, "dave", 0, last, 500)
	var types []string
	for _, e := range daves {
		env := testkit.JSON[struct {
			Type string
			Seq  uint64
		}](t, e)
		types = append(types, env.Type)
		if env.Seq >= last {
			t.Fatalf("dave's sync holds %s, after his removal", e)
		}
	}
	if want := []string{"member.joined", "notification.new", "message.new", "member.left"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("dave's sync: %v, want %v", types, want)
	}
}

func TestSyncRefusesBadInputAndAppendsNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	send(alice, conv, "a1", "hello")
	alice.WaitType("message.new", "hello")
	before := c.LastSeq()
	tok := c.Token("geosector", "alice", "member")
	for _, tc := range []struct {
		name, query, token string
		status             int
		code               string
	}{
		{"no since", "", tok, 400, "invalid_payload"},
		{"empty since", "since=", tok, 400, "invalid_payload"},
		{"negative since", "since=-1", tok, 400, "invalid_payload"},
		{"non-numeric since", "since=abc", tok, 400, "invalid_payload"},
		{"limit 0", "since=0&limit=0", tok, 400, "invalid_payload"},
		{"limit 501", "since=0&limit=501", tok, 400, "invalid_payload"},
		{"non-numeric limit", "since=0&limit=ten", tok, 400, "invalid_payload"},
		{"since in the future", fmt.Sprintf("since=%d", before+1000), tok, 400, "invalid_payload"},
		{"no token", "since=0", "", 401, "unauthenticated"},
	} {
		status, body := c.Do("GET", "/api/chat/sync?"+tc.query, tc.token, nil)
		got := testkit.JSON[struct{ Error struct{ Code string } }](t, body).Error.Code
		if status != tc.status || got != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
	// The head itself is fine, with nothing after it.
	status, body := c.Do("GET", fmt.Sprintf("/api/chat/sync?since=%d&minSeq=%d", before, before), tok, nil)
	if page := testkit.JSON[syncPage](t, body); status != http.StatusOK || len(page.Events) != 0 || page.HasMore || page.Next != before {
		t.Fatalf("sync from the head: %d %s", status, body)
	}
	sentinelAppends(t, c, alice, conv, before)
}
