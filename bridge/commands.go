package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
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

// actions in the contract that this build does not carry out yet.
var laterActions = map[string]bool{
	"edit": true, "delete": true, "read": true, "delivered": true,
	"typing": true, "focus": true, "unfocus": true, "presence": true,
}

type sendCommand struct {
	ClientMsgID    string `json:"clientMsgId"`
	ConversationID string `json:"conversationId"`
	Content        string `json:"content"`
	ContentType    string `json:"contentType"`
	AttachmentID   string `json:"attachmentId"`
	ReplyTo        string `json:"replyTo"`
}

// ParseCommand turns one command of user in app into the event it appends, or
// a rejection. It trusts nothing in the payload about who is sending: the
// sender is the topic's user, which the broker ACL ties to the connection.
func ParseCommand(app *config.App, user, action string, payload []byte, now time.Time) (*events.Envelope, *Rejection) {
	if !events.ValidID(user) {
		return nil, reject(action, "", CodeForbidden, "user id %q is not allowed", user)
	}
	if len(payload) > MaxCommandBytes {
		return nil, reject(action, "", CodeTooLarge, "payload of %d bytes exceeds %d", len(payload), MaxCommandBytes)
	}
	switch {
	case action == "send":
		return parseSend(app, user, payload, now)
	case laterActions[action]:
		return nil, reject(action, "", CodeUnsupported, "action %q is not available yet", action)
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
func command(apps config.Apps, limits *CommandLimits, log *slog.Logger, topic string, payload []byte, now time.Time) (*events.Envelope, string, *Delivery) {
	prefix, user, action, ok := parseCommandTopic(topic)
	app := apps.ByPrefix(prefix)
	if !ok || app == nil {
		commandsTotal.WithLabelValues("unknown", "bad_topic").Inc()
		log.Warn("security: command on an unexpected topic", "topic", logx.Cut(topic))
		return nil, "", nil
	}
	var e *events.Envelope
	rej := limited(limits, app.Name, user, action, payload)
	if rej == nil {
		e, rej = ParseCommand(app, user, action, payload, now)
	}
	if rej == nil {
		return e, action, nil
	}
	commandsTotal.WithLabelValues(metricAction(action), rej.Code).Inc()
	level := slog.LevelInfo
	if rej.Code == CodeRateLimited { // a flood must not flood the log as well
		level = slog.LevelDebug
	}
	// Never the payload; the user, action and reason come from the client.
	log.Log(context.Background(), level, "command rejected", "user", logx.Cut(user), "app", app.Name,
		"action", logx.Cut(action), "code", rej.Code, "reason", logx.Cut(rej.Message))
	if !events.ValidID(user) {
		return nil, action, nil
	}
	d := NewDelivery(prefix, user, KindErrors, Outbound{Type: "command.rejected", At: now.UTC(), Data: rej})
	return nil, action, &d
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
	if a == "send" || laterActions[a] {
		return a
	}
	return "unknown"
}
