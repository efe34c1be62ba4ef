package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Bot answers the messages of the conversations its user is a member of.
// It sees the chat only through what an internal service may use: its
// application's events (chat.evt.{app}.>) through its own durable consumer,
// and chat.cmd.{app}.send to post.
type Bot struct {
	NC      *nats.Conn
	App     string
	Service string // the service account's name
	User    string // the participant the bot posts as
	Log     *slog.Logger

	in      map[string]bool   // conversations the bot is a member of
	waiting map[string]string // approved-to-be messages' contents, by id
}

// Durable is the consumer name the service account may create.
func (b *Bot) Durable() string { return "svc_" + b.Service + "_" + b.App }

// Run reads the application's events from the start until ctx ends. The
// durable consumer remembers where it stopped, and answers are sent with a
// client id derived from the message answered, so an event read twice
// after a restart posts one answer.
func (b *Bot) Run(ctx context.Context) error {
	b.in, b.waiting = map[string]bool{}, map[string]string{}
	js, err := jetstream.New(b.NC)
	if err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable: b.Durable(), FilterSubject: events.SubjectRoot + "." + b.App + ".>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", b.Durable(), err)
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return err
		}
		if err := b.handle(msg.Data()); err != nil {
			b.Log.Warn("event not handled; it comes again", "err", err)
			_ = msg.NakWithDelay(time.Second)
			continue
		}
		_ = msg.Ack()
	}
}

func (b *Bot) handle(data []byte) error {
	e, err := events.Decode(data)
	if err != nil {
		return nil // not an event this bot understands: skipped
	}
	p, err := e.Payload()
	if err != nil {
		return nil
	}
	switch p := p.(type) {
	case *events.ConversationCreated:
		for _, m := range p.Members {
			if m.UserID == b.User {
				b.in[p.ConversationID] = true
			}
		}
	case *events.MemberJoined:
		if p.UserID == b.User {
			b.in[p.ConversationID] = true
		}
	case *events.MemberLeft:
		if p.UserID == b.User {
			delete(b.in, p.ConversationID)
		}
	case *events.MessagePosted:
		if b.in[p.ConversationID] && p.SenderID != b.User {
			b.waiting[p.MessageID] = p.Content
		}
	case *events.MessageModerated:
		content, ok := b.waiting[p.MessageID]
		if !ok || p.Status == events.StatusPending {
			return nil
		}
		delete(b.waiting, p.MessageID)
		if p.Status == events.StatusApproved && b.in[p.ConversationID] {
			return b.answer(p, content)
		}
	}
	return nil
}

// answer replies to an approved message.
func (b *Bot) answer(m *events.MessageModerated, content string) error {
	send, _ := json.Marshal(map[string]string{
		"senderId": b.User, "clientMsgId": "re-" + m.MessageID, "conversationId": m.ConversationID,
		"content": reply(m.SenderID, content), "replyTo": m.MessageID})
	r, err := b.NC.Request("chat.cmd."+b.App+".send", send, 10*time.Second)
	if err != nil {
		return err
	}
	var out struct {
		Error *struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.Data, &out); err != nil {
		return err
	}
	if out.Error != nil {
		// Refused for good (the bot left, may no longer reply): not retried.
		b.Log.Info("answer refused", "conversation", m.ConversationID, "code", out.Error.Code, "message", out.Error.Message)
	}
	return nil
}

// reply is the bot's whole conversation skill.
func reply(sender, content string) string {
	switch c := strings.ToLower(strings.TrimSpace(content)); {
	case strings.HasPrefix(c, "echo "):
		return strings.TrimSpace(content)[len("echo "):]
	case c == "help" || strings.HasSuffix(c, "?"):
		return "I am a bot. Say \"echo <text>\" and I repeat it; ask a person for anything else."
	default:
		return "Noted, " + sender + "."
	}
}
