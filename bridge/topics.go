// Package bridge joins MQTT and the log: ingress turns client commands on
// {prefix}/cmd/{user}/{action} into events, egress delivers to users' own
// {prefix}/user/{user}/{kind} topics, and the embedded broker authenticates
// clients by JWT and enforces the topic ACL (PROTOCOL §2).
package bridge

import (
	"strings"
	"time"

	fastjson "github.com/goccy/go-json" // a payload is encoded for every delivery
)

// Topic levels under an application's prefix.
const (
	levelCmd  = "cmd"
	levelUser = "user"
)

// Kinds of per-user topics (PROTOCOL §2).
const (
	KindMessages      = "messages"
	KindConversations = "conversations"
	KindModeration    = "moderation"
	KindReceipts      = "receipts"
	KindErrors        = "errors"
	// The user room: a user's settings changed (on another device), and
	// notification records.
	KindSettings      = "settings"
	KindNotifications = "notifications"
	KindAnnouncements = "announcements"
)

// UserTopic is the topic of one user's kind of deliveries.
func UserTopic(prefix, user, kind string) string {
	return prefix + "/" + levelUser + "/" + user + "/" + kind
}

// CommandFilter is the filter that matches every command of an application.
func CommandFilter(prefix string) string { return prefix + "/" + levelCmd + "/+/+" }

// parseCommandTopic splits {prefix}/cmd/{user}/{action}.
func parseCommandTopic(topic string) (prefix, user, action string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 4 || parts[1] != levelCmd {
		return "", "", "", false
	}
	return parts[0], parts[2], parts[3], true
}

// Outbound is the envelope of everything a client receives.
type Outbound struct {
	Type string    `json:"type"`
	Seq  uint64    `json:"seq"` // 0 for answers that are not log events (command.rejected)
	At   time.Time `json:"at"`
	Data any       `json:"data"`
}

// Delivery is one payload for one topic.
type Delivery struct {
	Topic   string
	Payload []byte
}

// NewDelivery encodes an outbound envelope for a user's topic.
func NewDelivery(prefix, user, kind string, o Outbound) Delivery {
	return Delivery{Topic: UserTopic(prefix, user, kind), Payload: Encode(o)}
}

// Encode is the payload of an outbound envelope; encode once, deliver to
// every recipient.
func Encode(o Outbound) []byte {
	b, err := fastjson.Marshal(o)
	if err != nil { // Data is always built from plain structs
		panic("encode delivery: " + err.Error())
	}
	return b
}

// EncodeData is an envelope's data encoded as Encode encodes it, for a store
// that keeps deliveries to send them again (sync): an Outbound whose Data is
// these bytes as a json.RawMessage encodes to the same payload.
func EncodeData(data any) []byte {
	b, err := fastjson.Marshal(data)
	if err != nil {
		panic("encode delivery data: " + err.Error())
	}
	return b
}
