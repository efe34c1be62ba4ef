package daemon_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/servicecmd"
	"github.com/chatbackend/chat/services/testkit"
)

// serviceSend sends payload on subject as s and returns the reply.
func serviceSend(t *testing.T, s *serviceConn, subject string, payload any) servicecmd.Reply {
	t.Helper()
	b, ok := payload.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.nc.Request(subject, b, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var r servicecmd.Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("reply %s: %v", m.Data, err)
	}
	return r
}

func TestServicePostsAsAParticipant(t *testing.T) {
	c := daemontest.Chatd(t)
	conv := group(t, c, "alice", "support-bot")
	alice := connect(t, c, "alice")
	bot := createService(t, c, natsauth.Service{App: "geosector", Name: "support-bot"})

	send := map[string]any{"senderId": "support-bot", "clientMsgId": "hello-1", "conversationId": conv,
		"content": "How can I help?", "contentType": "text"}
	r := serviceSend(t, bot, "chat.cmd.geosector.send", send)
	if r.Error != nil || r.MessageID == "" || r.Seq == 0 {
		t.Fatalf("send: %+v %+v", r, r.Error)
	}
	alice.Until("the bot's message", func() bool {
		for _, m := range alice.Of("message.new") {
			if strings.Contains(string(m.Data), "How can I help?") && strings.Contains(string(m.Data), `"senderId":"support-bot"`) {
				return true
			}
		}
		return false
	})

	// The same clientMsgId again is the same message, even after other events.
	send2 := map[string]any{"senderId": "support-bot", "clientMsgId": "hello-2", "conversationId": conv, "content": "second"}
	if r2 := serviceSend(t, bot, "chat.cmd.geosector.send", send2); r2.Error != nil {
		t.Fatalf("second send: %+v", r2.Error)
	}
	alice.Until("the second message, moderated", func() bool {
		for _, m := range alice.Of("message.new") {
			if strings.Contains(string(m.Data), `"content":"second"`) {
				return true
			}
		}
		return false
	})
	seq := c.LastSeq()
	again := serviceSend(t, bot, "chat.cmd.geosector.send", send)
	if again.Error != nil || again.MessageID != r.MessageID || again.Seq != r.Seq {
		t.Fatalf("the same send again: %+v %+v, want %s at %d", again, again.Error, r.MessageID, r.Seq)
	}
	if c.LastSeq() != seq {
		t.Fatal("a repeated send appended an event")
	}
}

func TestServiceSendsBadInputAppendsNothing(t *testing.T) {
	c := daemontest.Chatd(t)
	conv := group(t, c, "alice", "support-bot")
	other := group(t, c, "carol", "dave")
	bot := createService(t, c, natsauth.Service{App: "geosector", Name: "support-bot"})
	good := func(k string, v any) map[string]any {
		m := map[string]any{"senderId": "support-bot", "clientMsgId": "c1", "conversationId": conv, "content": "hi"}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	before := c.LastSeq()
	for _, tc := range []struct {
		name    string
		payload any
		code    string
	}{
		{"not JSON", []byte("{"), "invalid_payload"},
		{"no sender", good("senderId", nil), "invalid_payload"},
		{"bad sender id", good("senderId", "a b"), "invalid_payload"},
		{"as a visitor", good("senderId", "anon-123"), "forbidden"},
		{"a non-participant", good("conversationId", other), "not_member"},
		{"an unknown conversation", good("conversationId", "nope"), "not_found"},
		{"empty content", good("content", " "), "invalid_payload"},
		{"NUL in content", good("content", "a\x00b"), "invalid_payload"},
		{"oversized", good("content", strings.Repeat("x", 70<<10)), "too_large"},
		{"a key twice", []byte(`{"senderId":"support-bot","senderId":"alice","clientMsgId":"c1","conversationId":"` + conv + `","content":"hi"}`), "invalid_payload"},
	} {
		r := serviceSend(t, bot, "chat.cmd.geosector.send", tc.payload)
		if r.Error == nil || r.Error.Code != tc.code {
			t.Errorf("%s: %+v %+v, want %s", tc.name, r, r.Error, tc.code)
		}
	}
	if after := c.LastSeq(); after != before {
		t.Fatalf("refused sends appended %d events", after-before)
	}
	// Another application's subject is refused by NATS itself.
	if _, err := bot.nc.Request("chat.cmd.resalice.send", []byte(`{}`), 2*time.Second); err == nil {
		t.Fatal("a geosector service got an answer on resalice's send subject")
	}
	testkit.Eventually(t, 5*time.Second, "the permission violation reported", func() bool {
		return bot.refused("Permissions Violation")
	})
}
