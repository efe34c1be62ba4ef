package events

import (
	"errors"
	"fmt"
	"strings"
)

// Anonymous visitor events (PROTOCOL §3, Resalice): a visitor without an
// account starts a one_to_one with a professional, and may later become a
// known client. Both live under the conversation's subjects, so every
// decision about the visitor is made at that conversation's position and
// every consumer that follows the conversation sees them in order.
const (
	TypeAnonymousUserCreated Type = "AnonymousUserCreated"
	TypeAnonymousConverted   Type = "AnonymousConverted"
	// TypeConversationTransferred: see ConversationTransferred.
	TypeConversationTransferred Type = "ConversationTransferred"
)

// AnonymousPrefix starts every visitor's user id (PROTOCOL §1); host
// applications never name their users so.
const AnonymousPrefix = "anon-"

// IsAnonymous reports whether a user id names an anonymous visitor.
func IsAnonymous(user string) bool { return strings.HasPrefix(user, AnonymousPrefix) }

// AnonymousID is the id of the visitor a device starts a chat with a
// professional as: derived, so the same device coming back to the same
// professional gets its visitor back, and the device id itself is never
// stored.
func AnonymousID(app, deviceID, professionalID string) string {
	return AnonymousPrefix + digest("anonymous", app, deviceID, professionalID)
}

// AnonymousUserCreated records a visitor and the conversation it was
// created with (appended right after that conversation's creation).
type AnonymousUserCreated struct {
	ConversationID string            `json:"conversationId"`
	AnonymousID    string            `json:"anonymousId"`
	ProfessionalID string            `json:"professionalId"`
	Name           string            `json:"name,omitempty"`
	Email          string            `json:"email,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

func (*AnonymousUserCreated) EventType() Type   { return TypeAnonymousUserCreated }
func (e *AnonymousUserCreated) scopeID() string { return e.ConversationID }
func (e *AnonymousUserCreated) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "anonymousId", e.AnonymousID, "professionalId", e.ProfessionalID); err != nil {
		return err
	}
	if !IsAnonymous(e.AnonymousID) {
		return fmt.Errorf("anonymousId: %q does not start with %s", e.AnonymousID, AnonymousPrefix)
	}
	if IsAnonymous(e.ProfessionalID) {
		return errors.New("professionalId: an anonymous visitor is no professional")
	}
	if err := checkText("name", e.Name); err != nil {
		return err
	}
	if err := checkText("email", e.Email); err != nil {
		return err
	}
	for k, v := range e.Metadata {
		if err := checkText("metadata key", k); err != nil {
			return err
		}
		if err := checkText("metadata."+k, v); err != nil {
			return err
		}
	}
	return nil
}

// AnonymousConverted makes a visitor a known client: from this position
// the client holds the visitor's place in the conversation (role, read
// positions), the visitor's messages are shown as the client's, and the
// visitor's token is refused everywhere.
type AnonymousConverted struct {
	ConversationID string `json:"conversationId"`
	AnonymousID    string `json:"anonymousId"`
	UserID         string `json:"userId"`
	ConvertedBy    string `json:"convertedBy"`
}

func (*AnonymousConverted) EventType() Type   { return TypeAnonymousConverted }
func (e *AnonymousConverted) scopeID() string { return e.ConversationID }
func (e *AnonymousConverted) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "anonymousId", e.AnonymousID, "userId", e.UserID,
		"convertedBy", e.ConvertedBy); err != nil {
		return err
	}
	if !IsAnonymous(e.AnonymousID) {
		return fmt.Errorf("anonymousId: %q does not start with %s", e.AnonymousID, AnonymousPrefix)
	}
	if IsAnonymous(e.UserID) {
		return fmt.Errorf("userId: %q is an anonymous id, not a client", e.UserID)
	}
	return nil
}

// VisitorEventID and ConversionID are the ids of a visitor's creation and
// conversion: derived, so a retried request is one event.
func VisitorEventID(app, anonymousID string) string { return "v" + digest("visitor", app, anonymousID) }

// ConversionID: see VisitorEventID.
func ConversionID(app, anonymousID string) string {
	return "w" + digest("conversion", app, anonymousID)
}

// VisitorConversationID is the id of the conversation a visitor started:
// derived from the visitor alone, so it names the same conversation after
// a transfer to another professional or a conversion.
func VisitorConversationID(app, anonymousID string) string {
	return "a" + digest("visitor-conversation", app, anonymousID)
}

// ConversationTransferred tells a visitor's (or client's) conversation
// moved to another professional. The move itself is the MemberJoined of
// the new professional (as admin) and the MemberLeft of the previous ones
// just before it; this event is what the members after it are told.
type ConversationTransferred struct {
	ConversationID string   `json:"conversationId"`
	FromUserIDs    []string `json:"fromUserIds"`
	ToUserID       string   `json:"toUserId"`
	TransferredBy  string   `json:"transferredBy"`
}

func (*ConversationTransferred) EventType() Type   { return TypeConversationTransferred }
func (e *ConversationTransferred) scopeID() string { return e.ConversationID }
func (e *ConversationTransferred) Validate() error {
	if err := checkIDs("conversationId", e.ConversationID, "toUserId", e.ToUserID, "transferredBy", e.TransferredBy); err != nil {
		return err
	}
	for i, u := range e.FromUserIDs {
		if !ValidID(u) {
			return fmt.Errorf("fromUserIds[%d]: invalid id %q", i, u)
		}
	}
	return nil
}
