package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/logx"
	"github.com/chatbackend/chat/services/strictjson"
)

// MaxCommandBytes bounds a command payload before it is parsed at all.
const MaxCommandBytes = 64 << 10

// Error codes (PROTOCOL §2).
const (
	CodeInvalidPayload = "invalid_payload"
	CodeTooLarge       = "too_large"
	CodeUnsupported    = "unsupported"
	CodeForbidden      = "forbidden"
	CodeConflict       = "conflict"
)

// Rejection is the answer to a command that must not reach the log.
type Rejection struct {
	ClientMsgID string `json:"clientMsgId,omitempty"`
	Action      string `json:"action"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	// RetryAfterMs, on rate_limited, is how long until the sender may
	// send again.
	RetryAfterMs int64 `json:"retryAfterMs,omitempty"`
}

func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

func reject(action, clientMsgID, code, format string, args ...any) *Rejection {
	return &Rejection{ClientMsgID: clientMsgID, Action: action, Code: code, Message: fmt.Sprintf(format, args...)}
}

type sendCommand struct {
	ClientMsgID    string `json:"clientMsgId"`
	ConversationID string `json:"conversationId"`
	Content        string `json:"content"`
	ContentType    string `json:"contentType"`
	AttachmentID   string `json:"attachmentId"`
	ReplyTo        string `json:"replyTo"`
}

// Command is a parsed command: an event appended as it is (send), or a
// command decided first at its conversation's position (edit, delete).
type Command struct {
	Event *events.Envelope
	// Decided is an edit or a delete; Action says which.
	Decided *decide.MessageCommand
	// Receipt is a read or delivered receipt, decided like Decided.
	Receipt *decide.ReceiptCommand
	Action  string
	// Live is a typing, focus, unfocus or presence signal: published on
	// core NATS, never stored (see live.go).
	Live *LiveSignal

	prefix string // the application's topic prefix, for the answer
}

// ParseCommand turns one command of user in app into what it appends, or a
// rejection. It trusts nothing in the payload about who is sending: the
// sender is the topic's user, which the broker ACL ties to the connection.
func ParseCommand(app *config.App, user, action string, payload []byte, now time.Time) (*Command, *Rejection) {
	if !events.ValidID(user) {
		return nil, reject(action, "", CodeForbidden, "user id %q is not allowed", user)
	}
	if len(payload) > MaxCommandBytes {
		return nil, reject(action, "", CodeTooLarge, "payload of %d bytes exceeds %d", len(payload), MaxCommandBytes)
	}
	switch {
	case action == "send":
		e, rej := parseSend(app, user, payload, now)
		if rej != nil {
			return nil, rej
		}
		return &Command{Event: e, Action: action}, nil
	case action == "edit" || action == "delete":
		return parseMessageCommand(app, user, action, payload, now)
	case action == "read" || action == "delivered":
		return parseReceipt(app, user, action, payload, now)
	case isLive(action):
		s, rej := parseLive(app.Name, user, action, payload, now)
		if rej != nil {
			return nil, rej
		}
		return &Command{Live: s, Action: action}, nil
	default:
		return nil, reject(action, "", CodeUnsupported, "unknown action %q", action)
	}
}

func parseSend(app *config.App, user string, payload []byte, now time.Time) (*events.Envelope, *Rejection) {
	const action = "send"
	// A key in another case or given twice could make the payload mean one
	// thing to a client-side filter and another here: refused. Unknown fields
	// are skipped, as clients written to the seed send a senderId we ignore.
	var c sendCommand
	if err := strictjson.DecodeIgnoringUnknown(payload, &c); err != nil {
		return nil, reject(action, "", CodeInvalidPayload, "payload: %v", err)
	}
	if !events.ValidID(c.ClientMsgID) {
		return nil, reject(action, "", CodeInvalidPayload, "clientMsgId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	if !events.ValidID(c.ConversationID) {
		return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "conversationId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	if strings.TrimSpace(c.Content) == "" && c.AttachmentID == "" {
		return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "content is empty")
	}
	if len(c.Content) > app.Limits.MaxContentBytes {
		return nil, reject(action, c.ClientMsgID, CodeTooLarge, "content of %d bytes exceeds %d", len(c.Content), app.Limits.MaxContentBytes)
	}
	if c.ContentType == "" {
		c.ContentType = string(events.ContentText)
	}
	p := &events.MessagePosted{
		MessageID:      events.MessageID(app.Name, user, c.ClientMsgID),
		ClientMsgID:    c.ClientMsgID,
		ConversationID: c.ConversationID,
		SenderID:       user,
		SenderType:     SenderType(user),
		Content:        c.Content,
		ContentType:    events.ContentType(c.ContentType),
		AttachmentID:   c.AttachmentID,
		ReplyTo:        c.ReplyTo,
	}
	if err := p.Validate(); err != nil {
		return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "%v", err)
	}
	// The event id is the message id: every redelivery of this send is the
	// same event, and the log keeps one.
	e, err := events.New(p.MessageID, app.Name, now, events.Actor{ID: user, Type: p.SenderType}, p)
	if err != nil {
		return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "%v", err)
	}
	return e, nil
}

type messageCommand struct {
	ClientMsgID string  `json:"clientMsgId"`
	MessageID   string  `json:"messageId"`
	Content     *string `json:"content"`
}

// parseMessageCommand parses edit {"clientMsgId","messageId","content"} and
// delete {"clientMsgId","messageId"}. The event id derives from the client's
// id, so the same command twice is one edit or one deletion.
func parseMessageCommand(app *config.App, user, action string, payload []byte, now time.Time) (*Command, *Rejection) {
	var c messageCommand
	if err := strictjson.DecodeIgnoringUnknown(payload, &c); err != nil {
		return nil, reject(action, "", CodeInvalidPayload, "payload: %v", err)
	}
	if !events.ValidID(c.ClientMsgID) {
		return nil, reject(action, "", CodeInvalidPayload, "clientMsgId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	if !events.ValidID(c.MessageID) {
		return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "messageId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	cmd := &decide.MessageCommand{App: app.Name, Actor: events.Actor{ID: user, Type: SenderType(user)},
		ClientMsgID: c.ClientMsgID, MessageID: c.MessageID, At: now}
	if action == "edit" {
		if c.Content == nil {
			return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "content is missing")
		}
		if err := decide.CheckContent(*c.Content, app.Limits.MaxContentBytes); err != nil {
			return nil, rejection(action, c.ClientMsgID, err)
		}
		if err := (&events.MessageEdited{MessageID: c.MessageID, ConversationID: "c", ClientMsgID: c.ClientMsgID,
			Content: *c.Content, Message: events.Posting{ClientMsgID: "c", SenderID: user, PostedSeq: 1}}).Validate(); err != nil {
			return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "%v", err)
		}
		cmd.Content = *c.Content
		cmd.EventID = events.EditID(app.Name, user, c.ClientMsgID)
	} else {
		if c.Content != nil {
			return nil, reject(action, c.ClientMsgID, CodeInvalidPayload, "content: a delete carries none")
		}
		cmd.EventID = events.DeleteID(app.Name, user, c.ClientMsgID)
	}
	return &Command{Decided: cmd, Action: action}, nil
}

type receiptCommand struct {
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
}

// parseReceipt parses read and delivered {"conversationId","messageId"}.
func parseReceipt(app *config.App, user, action string, payload []byte, now time.Time) (*Command, *Rejection) {
	var c receiptCommand
	if err := strictjson.DecodeIgnoringUnknown(payload, &c); err != nil {
		return nil, reject(action, "", CodeInvalidPayload, "payload: %v", err)
	}
	if !events.ValidID(c.ConversationID) {
		return nil, reject(action, "", CodeInvalidPayload, "conversationId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	if !events.ValidID(c.MessageID) {
		return nil, reject(action, "", CodeInvalidPayload, "messageId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	return &Command{Action: action, Receipt: &decide.ReceiptCommand{App: app.Name, Actor: events.Actor{ID: user, Type: SenderType(user)},
		ConversationID: c.ConversationID, MessageID: c.MessageID, Read: action == "read", At: now}}, nil
}

// rejection answers a decision's refusal (or a conversation too busy to
// decide on) with its code.
func rejection(action, clientMsgID string, err error) *Rejection {
	var ref *decide.Refusal
	if errors.As(err, &ref) {
		return reject(action, clientMsgID, ref.Code, "%s", ref.Message)
	}
	if errors.Is(err, decide.ErrBusy) {
		return reject(action, clientMsgID, CodeConflict, "the conversation changed too often while deciding: send again")
	}
	return nil
}

// SenderType tells anonymous visitors (ids anon-…) from known users.
func SenderType(user string) events.ActorType {
	if strings.HasPrefix(user, "anon-") {
		return events.ActorAnonymous
	}
	return events.ActorUser
}

var commandsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chat_commands_total",
	Help: "MQTT commands received, by action and result (appended, duplicate, or the rejection code).",
}, []string{"action", "result"})

// command turns one MQTT message on a command topic into the event to append,
// or the command.rejected answer for its sender (or neither, for a topic no
// application owns).
func command(apps config.Apps, limits *CommandLimits, log *slog.Logger, topic string, payload []byte, now time.Time) (*Command, string, *Delivery) {
	prefix, user, action, ok := parseCommandTopic(topic)
	app := apps.ByPrefix(prefix)
	if !ok || app == nil {
		commandsTotal.WithLabelValues("unknown", "bad_topic").Inc()
		log.Warn("security: command on an unexpected topic", "topic", logx.Cut(topic))
		return nil, "", nil
	}
	var cmd *Command
	rej := limited(limits, app.Name, user, action, payload)
	if rej == nil {
		cmd, rej = ParseCommand(app, user, action, payload, now)
	}
	if rej == nil {
		cmd.prefix = prefix
		if cmd.Live != nil {
			cmd.Live.Prefix = prefix
		}
		return cmd, action, nil
	}
	return nil, action, rejected(log, prefix, app.Name, user, rej, now)
}

// rejected counts and logs a rejection and returns its command.rejected
// delivery (nil when the user id cannot name a topic).
func rejected(log *slog.Logger, prefix, app, user string, rej *Rejection, now time.Time) *Delivery {
	action := rej.Action
	commandsTotal.WithLabelValues(metricAction(action), rej.Code).Inc()
	level := slog.LevelInfo
	if rej.Code == CodeRateLimited { // a flood must not flood the log as well
		level = slog.LevelDebug
	}
	// Never the payload; the user, action and reason come from the client.
	log.Log(context.Background(), level, "command rejected", "user", logx.Cut(user), "app", app,
		"action", logx.Cut(action), "code", rej.Code, "reason", logx.Cut(rej.Message))
	if !events.ValidID(user) {
		return nil
	}
	d := NewDelivery(prefix, user, KindErrors, Outbound{Type: "command.rejected", At: now.UTC(), Data: rej})
	return &d
}

func countAppended(action string, r jet.Appended) {
	result := "appended"
	if r.Duplicate {
		result = "duplicate"
	}
	commandsTotal.WithLabelValues(action, result).Inc()
}

// metricAction keeps the action label's cardinality bounded.
func metricAction(a string) string {
	if a == "send" || a == "edit" || a == "delete" || a == "read" || a == "delivered" || isLive(a) {
		return a
	}
	return "unknown"
}
