package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/testkit"
)

func TestChatbotAnswersInTheConversationsItIsIn(t *testing.T) {
	c := daemontest.Chatd(t)
	svc := natsauth.Service{App: "geosector", Name: "support-bot"}
	nc, err := nats.Connect(c.ServiceAccount(svc), nats.CustomInboxPrefix(svc.InboxPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Bot{NC: nc, App: "geosector", Service: "support-bot", User: "support-bot", Log: testkit.Logger(t)}).Run(ctx)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("bot: %v", err)
		}
	}()

	alice := testkit.Connect(t, "tcp://"+c.MQTTAddr(), "chat", "alice", c.Token("geosector", "alice", "member"))
	status, body := c.Do("POST", "/api/chat/conversations", c.Token("geosector", "alice", "member"),
		map[string]any{"type": "group", "title": "help desk", "participantIds": []string{"support-bot"}})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	conv := testkit.JSON[struct{ ID string }](t, body).ID
	alice.Publish("chat/cmd/alice/send", map[string]string{"clientMsgId": "q1", "conversationId": conv, "content": "echo bonjour"})
	alice.Until("the bot's answer", func() bool {
		for _, m := range alice.Of("message.new") {
			if strings.Contains(string(m.Data), `"senderId":"support-bot"`) && strings.Contains(string(m.Data), `"content":"bonjour"`) {
				return true
			}
		}
		return false
	})
}

func TestChatbotFlags(t *testing.T) {
	var out strings.Builder
	for _, args := range [][]string{{}, {"--app", "geosector"}, {"--nats-url", "nats://x", "--app", "a b", "--service", "s"}, {"--unknown"}} {
		out.Reset()
		if code := run(args, &out, func(string) string { return "" }); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, out.String())
		}
	}
}
