// Package servicecmd answers the commands internal services send over NATS
// (PROTOCOL §4): chat.cmd.{app}.send, request/reply, the MQTT send payload
// plus the senderId the message is posted as. NATS permissions let a
// service publish under its own application only, so the subject's {app}
// is the caller's.
package servicecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/strictjson"
)

// Subject is what services send to; chatd instances share the work as one
// queue group.
const (
	Subject    = "chat.cmd.*.send"
	QueueGroup = "chatd-sends"
)

var sendsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chat_service_sends_total",
	Help: "Messages internal services sent over NATS, by result (appended, duplicate, or the error code).",
}, []string{"result"})

// Sends answers chat.cmd.{app}.send.
type Sends struct {
	Apps    config.Apps
	Decider *decide.Decider
	Limits  *bridge.CommandLimits // per sender, as over MQTT; nil: none
	Log     *slog.Logger
	Now     func() time.Time
}

// Reply is the answer to a send: the message's id and position, or Error.
type Reply struct {
	MessageID string `json:"messageId,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Error     *Error `json:"error,omitempty"`
}

// Error carries a code of PROTOCOL §2 and a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Subscribe starts answering until the subscription is drained.
func (s *Sends) Subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(Subject, QueueGroup, func(m *nats.Msg) {
		r := s.Handle(context.Background(), m.Subject, m.Data)
		if r.Error != nil {
			sendsTotal.WithLabelValues(r.Error.Code).Inc()
		}
		if m.Reply == "" {
			return
		}
		b, _ := json.Marshal(r)
		if err := m.Respond(b); err != nil {
			s.Log.Warn("service send: reply not sent", "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", Subject, err)
	}
	return sub, nil
}

// Handle decides one send on subject with payload.
func (s *Sends) Handle(ctx context.Context, subject string, payload []byte) Reply {
	app := s.Apps[appOf(subject)]
	if app == nil {
		return fail(decide.CodeNotFound, "no application %q here", appOf(subject))
	}
	if len(payload) > bridge.MaxCommandBytes {
		return fail(bridge.CodeTooLarge, "payload of %d bytes exceeds %d", len(payload), bridge.MaxCommandBytes)
	}
	var who struct {
		SenderID string `json:"senderId"`
	}
	if err := strictjson.DecodeIgnoringUnknown(payload, &who); err != nil {
		return fail(bridge.CodeInvalidPayload, "payload: %v", err)
	}
	switch {
	case !events.ValidID(who.SenderID):
		return fail(bridge.CodeInvalidPayload, "senderId must match ^[A-Za-z0-9_-]{1,64}$")
	case bridge.SenderType(who.SenderID) != events.ActorUser:
		return fail(bridge.CodeForbidden, "a service posts as a known user, never as a visitor")
	}
	if ok, wait := s.Limits.Allow(app.Name, who.SenderID); !ok {
		return fail(bridge.CodeRateLimited, "too many messages from %s: retry in %v", who.SenderID, wait)
	}
	cmd, rej := bridge.ParseCommand(app, who.SenderID, "send", payload, s.Now())
	if rej != nil {
		return fail(rej.Code, "%s", rej.Message)
	}
	e := cmd.Event
	e.Actor.Type = events.ActorService // posted by a service, as senderId
	posted, _ := e.Payload()
	conv := posted.(*events.MessagePosted).ConversationID
	// The sender must be allowed to post at the conversation's position in
	// the log; moderation decides the message itself at its own.
	out, err := s.Decider.Decide(ctx, app.Name, conv, func(st *decide.State) ([]*events.Envelope, error) {
		c := st.Conversation()
		if c == nil {
			return nil, &decide.Refusal{Code: decide.CodeNotFound, Message: "no such conversation"}
		}
		if ok, reason := c.CanPost(who.SenderID); !ok {
			return nil, &decide.Refusal{Code: reason, Message: who.SenderID + " may not post in this conversation"}
		}
		return []*events.Envelope{e}, nil
	})
	var refusal *decide.Refusal
	switch {
	case errors.As(err, &refusal):
		return fail(refusal.Code, "%s", refusal.Message)
	case errors.Is(err, decide.ErrBusy):
		return fail(decide.CodeConflict, "the conversation is busy: retry")
	case err != nil:
		s.Log.Error("service send failed", "app", app.Name, "conversation", conv, "err", err)
		return fail("internal", "the send could not be stored: retry")
	}
	result := "appended"
	if out.Appended[0].Duplicate {
		result = "duplicate"
	}
	sendsTotal.WithLabelValues(result).Inc()
	return Reply{MessageID: e.ID, Seq: out.Appended[0].Seq}
}

func fail(code, format string, args ...any) Reply {
	return Reply{Error: &Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// appOf is the {app} of chat.cmd.{app}.send.
func appOf(subject string) string {
	rest := strings.TrimPrefix(subject, "chat.cmd.")
	app, _, _ := strings.Cut(rest, ".")
	return app
}
