package events

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// MaxIDLen bounds every id: ids become MQTT topic levels and NATS tokens.
const MaxIDLen = 64

// ValidID reports whether s matches ^[A-Za-z0-9_-]{1,64}$ (PROTOCOL §1).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// digest hashes parts with a separator no id can contain.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// MessageID is the id of the message a sender posts with clientMsgID. It is
// derived, not random, so every redelivery of the same send names the same
// message and every consumer can deduplicate on it, however late it comes.
func MessageID(app, senderID, clientMsgID string) string {
	return "m" + digest("msg", app, senderID, clientMsgID)
}

// EditID and DeleteID are the ids of the edit and the deletion an actor
// asks for with clientMsgID: derived, so the same command delivered twice is
// one event, however late the repeat.
func EditID(app, actor, clientMsgID string) string {
	return "x" + digest("edit", app, actor, clientMsgID)
}

// DeleteID: see EditID.
func DeleteID(app, actor, clientMsgID string) string {
	return "y" + digest("delete", app, actor, clientMsgID)
}

// ReceiptID is the id of user's receipt (kind "read" or "delivered") for
// messageID in conv: derived, so the same receipt sent twice, however far
// apart, is one event.
func ReceiptID(kind, app, user, conv, messageID string) string {
	return "r" + digest("receipt", kind, app, user, conv, messageID)
}

// OneToOneID is the id of the one-to-one conversation between two users; both
// orders give the same id, so creating it twice finds the first.
func OneToOneID(app, a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "d" + digest("dm", app, a, b)
}

// ServiceAccountID is the id of the event that creates a service's account:
// derived, so asking for the same account again is the same event.
func ServiceAccountID(app, name string) string {
	return "s" + digest("service-account", app, name)
}

// NewConversationID returns a fresh random conversation id.
func NewConversationID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "c" + hex.EncodeToString(b[:])
}

// NewEventID returns a fresh random event id, for events that have no natural key.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "e" + hex.EncodeToString(b[:])
}
