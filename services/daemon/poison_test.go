package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

func TestNULInEveryTextFieldIsRefusedAndAppendsNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	conv := group(t, c, "alice", "bob")
	before := c.LastSeq()

	for _, title := range []string{"\x00", "team\x00", "\x00team", "équipe \x00 nord"} {
		status, body := c.Do("POST", "/api/chat/conversations", c.Token("geosector", "alice", "member"),
			map[string]any{"type": "group", "title": title, "participantIds": []string{"bob"}})
		if status != http.StatusBadRequest || !contains(body, `"code":"invalid_payload"`) || !contains(body, "title") {
			t.Errorf("title %q: got %d %s, want 400 invalid_payload naming title", title, status, body)
		}
	}
	if got := c.LastSeq(); got != before {
		t.Fatalf("refused titles appended %d events", got-before)
	}

	contents := []string{"\x00", "hello\x00", "\x00hello", "bonjour \x00 à tous"}
	for i, content := range contents {
		send(alice, conv, "nul-"+string(rune('a'+i)), content) // JSON-encoded: "\u0000"
	}
	alice.WaitFor("every NUL send rejected", func(testkit.Received) bool {
		return len(alice.Of("command.rejected")) == len(contents)
	})
	for _, r := range alice.Of("command.rejected") {
		if !contains(r.Data, `"code":"invalid_payload"`) || !contains(r.Data, "content") {
			t.Fatalf("rejection %s, want invalid_payload naming content", r.Data)
		}
	}
	sentinelAppends(t, c, alice, conv, before)
}

func TestPoisonEventInTheLogIsParkedAndWritesGoOn(t *testing.T) {
	c := daemontest.Chatd(t)
	alice := c.Token("geosector", "alice", "member")
	conv := group(t, c, "alice", "bob")

	// A producer that bypasses validation appends a message with a NUL.
	data, _ := json.Marshal(map[string]any{"messageId": "poison", "clientMsgId": "poison", "conversationId": conv,
		"senderId": "alice", "senderType": "user", "content": "a\x00b", "contentType": "text"})
	env, _ := json.Marshal(map[string]any{"id": "poison", "type": events.TypeMessagePosted, "v": events.Version, "app": "geosector",
		"at": time.Now().UTC(), "actor": events.Actor{ID: "alice", Type: events.ActorUser}, "data": json.RawMessage(data)})
	m := nats.NewMsg(events.SubjectRoot + ".geosector.conv." + conv + ".message.posted")
	m.Data = env
	if _, err := c.JetStream().PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	// A write after it is answered once the read model has it: 201, not a
	// 202 after waiting out the bound behind a stuck projector.
	status, body := c.Do("POST", "/api/chat/conversations", alice, map[string]any{"type": "group", "title": "after", "participantIds": []string{"bob"}})
	if status != http.StatusCreated {
		t.Fatalf("write after the poison event: %d %s", status, body)
	}
	if got := metric(t, c, `chat_consumer_parked_total{consumer="projector-postgres"}`); got < 1 {
		t.Fatalf("projector parked %v events, want the poison one", got)
	}
	if status, body := c.Do("GET", "/readyz", "", nil); status != http.StatusOK {
		t.Fatalf("readyz after the poison event: %d %s", status, body)
	}
}

func TestReadinessFailsWhileTheProjectorIsStalledAndRecovers(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.ProjectorStall = time.Second })
	conv := group(t, c, "alice", "bob")
	ctx := context.Background()

	// Another connection holds the projection's lock, as a replay finishing
	// does: the projector waits and its position stops.
	release := c.HoldProjector()
	e, err := events.New(events.NewEventID(), "geosector", time.Now(), events.Actor{ID: "alice", Type: events.ActorUser},
		&events.MemberJoined{ConversationID: conv, UserID: "carol", Role: events.RoleMember, AddedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jet.NewAppender(c.JetStream()).Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	var body []byte
	testkit.Eventually(t, 30*time.Second, "readiness to report the stalled projector", func() bool {
		var status int
		status, body = c.Do("GET", "/readyz", "", nil)
		return status == http.StatusServiceUnavailable
	})
	status := testkit.JSON[map[string]string](t, body)
	if !strings.Contains(status["projector"], "stalled at position") || status["nats"] != "ok" || status["postgres"] != "ok" {
		t.Fatalf("readyz while stalled: %s", body)
	}
	testkit.Eventually(t, 10*time.Second, "the stalled gauge", func() bool { return metric(t, c, "chat_projector_stalled") == 1 })

	release()
	testkit.Eventually(t, 30*time.Second, "readiness to recover", func() bool {
		status, _ := c.Do("GET", "/readyz", "", nil)
		return status == http.StatusOK
	})
	testkit.Eventually(t, 10*time.Second, "the stalled gauge to clear", func() bool { return metric(t, c, "chat_projector_stalled") == 0 })
}
