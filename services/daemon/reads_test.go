package daemon_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// read sends a GET to the API and returns the answer with its Chat-Seq.
func read(t *testing.T, c *daemontest.Chat, path, token string) (answer, uint64) {
	t.Helper()
	a := call(t, c.HTTPAddr(), "GET", "/api/chat"+path, token, "", "")
	h := a.header.Get("Chat-Seq")
	seq, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		t.Fatalf("GET %s: %d with Chat-Seq %q, want a position: %s", path, a.status, h, a.body)
	}
	return a, seq
}

// delivered sends a message from alice and returns the position of its
// delivery to bob (the envelope's seq, what a client passes as minSeq) and the
// message's own seq.
func delivered(t *testing.T, alice, bob *testkit.Client, conv, content string) (at, msg uint64) {
	t.Helper()
	send(alice, conv, "id-"+content, content)
	got := bob.WaitType("message.new", content)
	msg = testkit.JSON[struct{ Seq uint64 }](t, got.Data).Seq
	if got.Seq == 0 || msg == 0 || got.Seq < msg {
		t.Fatalf("message.new at seq %d of message seq %d: %s", got.Seq, msg, got.Data)
	}
	return got.Seq, msg
}

func TestEveryReadCarriesChatSeqAtOrPastTheCallersWrites(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	written := c.LastSeq() // the create answered 201: the read model has it

	last := uint64(0)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/conversations", 200},
		{"/conversations/" + conv, 200},
		{"/conversations/" + conv + "/messages", 200},
		{"/conversations/" + conv + "/participants", 200},
		{"/conversations/nope", 404},
		{"/conversations/" + group(t, c, "carol", "dave") + "/messages", 403},
		{"/conversations/" + conv + "/messages?minSeq=" + strconv.FormatUint(written, 10), 200},
	} {
		a, seq := read(t, c, tc.path, alice)
		if a.status != tc.status {
			t.Fatalf("GET %s: %d %s, want %d", tc.path, a.status, a.body, tc.status)
		}
		if seq < written || seq < last {
			t.Fatalf("GET %s: Chat-Seq %d, want at least the write's %d and the previous read's %d", tc.path, seq, written, last)
		}
		last = seq
	}
	// Authentication comes first: an anonymous caller learns no position.
	if a := call(t, c.HTTPAddr(), "GET", "/api/chat/conversations", "", "", ""); a.status != 401 || a.header.Get("Chat-Seq") != "" {
		t.Fatalf("anonymous read: %d Chat-Seq %q", a.status, a.header.Get("Chat-Seq"))
	}
	// Writes are not reads: their answers carry no Chat-Seq.
	a := call(t, c.HTTPAddr(), "POST", "/api/chat/conversations", alice, "application/json",
		`{"type":"group","title":"t","participantIds":["bob"]}`)
	if a.status != http.StatusCreated || a.header.Get("Chat-Seq") != "" {
		t.Fatalf("write: %d Chat-Seq %q %s", a.status, a.header.Get("Chat-Seq"), a.body)
	}
}

func TestMinSeqOfADeliveredMessageReadsIt(t *testing.T) {
	c := daemontest.Chatd(t)
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")
	for i := range 3 {
		seq, msg := delivered(t, alice, bob, conv, fmt.Sprintf("hello-%d", i))
		// The first read after the delivery, no retry: minSeq makes it see the message.
		a, pos := read(t, c, fmt.Sprintf("/conversations/%s/messages?minSeq=%d", conv, seq), c.Token("geosector", "bob", "member"))
		if a.status != http.StatusOK || pos < seq {
			t.Fatalf("read at minSeq %d: %d Chat-Seq %d %s", seq, a.status, pos, a.body)
		}
		h := testkit.JSON[history](t, []byte(a.body))
		if len(h.Messages) != i+1 || h.Messages[0].Seq != msg {
			t.Fatalf("read at minSeq %d misses message %d: %+v", seq, msg, h)
		}
	}
}

func TestMinSeqWhileTheProjectorIsHeldBackAnswersLaggingThenSucceeds(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.WriteWait = 200 * time.Millisecond })
	alice, bob := connect(t, c, "alice"), connect(t, c, "bob")
	conv := group(t, c, "alice", "bob")

	// Another connection holds the projection's lock: the projector's
	// position stops while fan-out still delivers.
	release := c.HoldProjector()
	seq, msg := delivered(t, alice, bob, conv, "while-held")
	path := fmt.Sprintf("/conversations/%s/messages?minSeq=%d", conv, seq)
	bobTok := c.Token("geosector", "bob", "member")

	a, pos := read(t, c, path, bobTok)
	if a.status != http.StatusServiceUnavailable || pos >= seq {
		t.Fatalf("read past the held projector: %d Chat-Seq %d (minSeq %d) %s", a.status, pos, seq, a.body)
	}
	if code := testkit.JSON[struct{ Error struct{ Code string } }](t, []byte(a.body)).Error.Code; code != "lagging" {
		t.Fatalf("lagging read: code %q: %s", code, a.body)
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("lagging read: Retry-After %q", a.header.Get("Retry-After"))
	}
	// Without minSeq the read answers at once, saying how far it is.
	if a, pos := read(t, c, "/conversations/"+conv+"/messages", bobTok); a.status != http.StatusOK || pos >= seq ||
		len(testkit.JSON[history](t, []byte(a.body)).Messages) != 0 {
		t.Fatalf("read without minSeq while held: %d Chat-Seq %d %s", a.status, pos, a.body)
	}

	release()
	testkit.Eventually(t, 30*time.Second, "the read at minSeq to succeed once released", func() bool {
		a, pos = read(t, c, path, bobTok)
		return a.status == http.StatusOK
	})
	if h := testkit.JSON[history](t, []byte(a.body)); pos < seq || len(h.Messages) != 1 || h.Messages[0].Seq != msg {
		t.Fatalf("read after release: Chat-Seq %d %s", pos, a.body)
	}
}

func TestBadMinSeqAndLimitAnswer400AndAppendNothing(t *testing.T) {
	// A minSeq past the log would wait the whole minute if it were waited for.
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.WriteWait = time.Minute })
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()
	beyond := strconv.FormatUint(before+1, 10)
	for _, path := range []string{"/conversations", "/conversations/" + conv, "/conversations/" + conv + "/messages", "/conversations/" + conv + "/participants"} {
		for _, q := range []string{"minSeq=-1", "minSeq=0", "minSeq=abc", "minSeq=", "minSeq=1e3",
			"minSeq=99999999999999999999", "minSeq=18446744073709551615", "minSeq=" + beyond} {
			a, _ := read(t, c, path+"?"+q, alice)
			if a.status != http.StatusBadRequest || testkit.JSON[struct{ Error struct{ Code string } }](t, []byte(a.body)).Error.Code != "invalid_payload" {
				t.Errorf("GET %s?%s: %d %s, want 400 invalid_payload", path, q, a.status, a.body)
			}
		}
	}
	for _, path := range []string{"/conversations", "/conversations/" + conv + "/messages"} {
		for _, q := range []string{"limit=0", "limit=201", "limit=abc", "limit=-1", "limit=1.5"} {
			if a, _ := read(t, c, path+"?"+q, alice); a.status != http.StatusBadRequest {
				t.Errorf("GET %s?%s: %d %s, want 400", path, q, a.status, a.body)
			}
		}
		for _, q := range []string{"limit=1", "limit=200", "minSeq=1", "minSeq=" + strconv.FormatUint(before, 10)} {
			if a, _ := read(t, c, path+"?"+q, alice); a.status != http.StatusOK {
				t.Errorf("GET %s?%s: %d %s, want 200", path, q, a.status, a.body)
			}
		}
	}
	if after := c.LastSeq(); after != before {
		t.Fatalf("reads appended to the log: %d → %d", before, after)
	}
}

func TestConversationsPageWithLimitAndSayHasMore(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	for range 3 {
		group(t, c, "alice", "bob")
	}
	type page struct {
		Conversations []struct{ ID string }
		HasMore       *bool
	}
	for _, tc := range []struct {
		query string
		n     int
		more  bool
	}{
		{"", 3, false},
		{"?limit=2", 2, true},
		{"?limit=3", 3, false},
		{"?limit=200", 3, false},
	} {
		a, _ := read(t, c, "/conversations"+tc.query, alice)
		p := testkit.JSON[page](t, []byte(a.body))
		if a.status != http.StatusOK || len(p.Conversations) != tc.n || p.HasMore == nil || *p.HasMore != tc.more {
			t.Errorf("GET /conversations%s: %d %s, want %d conversations and hasMore %v", tc.query, a.status, a.body, tc.n, tc.more)
		}
	}
}
