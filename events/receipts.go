package events

import (
	"errors"
	"fmt"
)

// Receipt events: a member has received, or read, every message of a
// conversation up to and including one (PROTOCOL §2). Each is decided at
// the conversation's position (services/decide): only members, only a
// message of that conversation, and only when it moves the member's
// position forward, so positions in the log only ever grow.
const (
	TypeDeliveryReceipt Type = "DeliveryReceipt"
	TypeReadReceipt     Type = "ReadReceipt"
)

// Receipt is what both receipt events carry. The receipt's time is the
// envelope's At.
type Receipt struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	MessageID      string `json:"messageId"`
	// MessageSeq is the stream position of the message's MessagePosted: the
	// receipt covers every message of the conversation posted at or before it.
	MessageSeq uint64 `json:"messageSeq"`
	// Senders are the senders of the approved messages this receipt newly
	// covers (after the user's previous position), the user excepted, each
	// once and sorted. In conversations too large to tell every member,
	// fan-out tells only them.
	Senders []string `json:"senders,omitempty"`
}

func (r *Receipt) validate() error {
	if err := checkIDs("conversationId", r.ConversationID, "userId", r.UserID, "messageId", r.MessageID); err != nil {
		return err
	}
	if r.MessageSeq == 0 {
		return errors.New("messageSeq: missing")
	}
	for i, s := range r.Senders {
		if !ValidID(s) {
			return fmt.Errorf("senders[%d]: invalid id %q", i, s)
		}
	}
	return nil
}

// DeliveryReceipt: UserID has received everything up to and including MessageID.
type DeliveryReceipt struct{ Receipt }

func (*DeliveryReceipt) EventType() Type   { return TypeDeliveryReceipt }
func (e *DeliveryReceipt) scopeID() string { return e.ConversationID }
func (e *DeliveryReceipt) Validate() error { return e.validate() }

// ReadReceipt: UserID has read everything up to and including MessageID.
type ReadReceipt struct{ Receipt }

func (*ReadReceipt) EventType() Type   { return TypeReadReceipt }
func (e *ReadReceipt) scopeID() string { return e.ConversationID }
func (e *ReadReceipt) Validate() error { return e.validate() }
