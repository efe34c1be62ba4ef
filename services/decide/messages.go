package decide

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatbackend/chat/events"
)

// ErrUnknownMessage is a Locator's answer for a message id it does not know.
var ErrUnknownMessage = errors.New("unknown message")

// Locator finds the conversation a message was posted in. It may read a
// read model: it only says where to decide, and the decision, made on that
// conversation's log, refuses a message that is not there.
type Locator func(ctx context.Context, app, messageID string) (string, error)

// MessageCommand is an edit or a deletion, from MQTT or REST.
type MessageCommand struct {
	App   string
	Actor events.Actor
	// EventID is the event's id: derived from the command's client id over
	// MQTT, so a repeat is one event (events.EditID, events.DeleteID).
	EventID     string
	ClientMsgID string
	MessageID   string
	Content     string // edits only
	At          time.Time
}

// Messages carries out edits and deletions, decided at the position of the
// message's conversation.
type Messages struct {
	Decider *Decider
	Locate  Locator
}

// Edit decides and appends an edit. A command whose event the log already
// holds changes nothing and succeeds.
func (ms *Messages) Edit(ctx context.Context, c MessageCommand) (Outcome, error) {
	return ms.do(ctx, c, func(s *State) (events.Payload, error) {
		return EditMessage(s, c.Actor.ID, c.MessageID, c.ClientMsgID, c.Content)
	})
}

// Delete decides and appends a deletion, as Edit.
func (ms *Messages) Delete(ctx context.Context, c MessageCommand) (Outcome, error) {
	return ms.do(ctx, c, func(s *State) (events.Payload, error) {
		return DeleteMessage(s, c.Actor.ID, c.MessageID, c.ClientMsgID)
	})
}

// Review decides and appends a moderator's approving or rejecting a message
// held for review. Its event id is ReviewID: one review per message.
func (ms *Messages) Review(ctx context.Context, c MessageCommand, approve bool) (Outcome, error) {
	c.EventID = ReviewID(c.MessageID)
	return ms.do(ctx, c, func(s *State) (events.Payload, error) {
		return ReviewMessage(s, c.MessageID, approve)
	})
}

// ReviewID is the id of the review of message id.
func ReviewID(messageID string) string { return "review-" + messageID }

func (ms *Messages) do(ctx context.Context, c MessageCommand, rule func(*State) (events.Payload, error)) (Outcome, error) {
	conv, err := ms.Locate(ctx, c.App, c.MessageID)
	if errors.Is(err, ErrUnknownMessage) {
		return Outcome{}, refuse(CodeNotFound, "no such message")
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("locate message %s: %w", c.MessageID, err)
	}
	return ms.Decider.Decide(ctx, c.App, conv, func(s *State) ([]*events.Envelope, error) {
		if s.Done(c.EventID) {
			return nil, nil // a repeat: the log has it
		}
		p, err := rule(s)
		if err != nil {
			return nil, err
		}
		return decided(c.EventID, c.App, c.At, c.Actor, p)
	})
}

// decided is a decision's one event; a payload the event rules refuse is
// the command's invalid_payload, not an internal error.
func decided(id, app string, at time.Time, actor events.Actor, p events.Payload) ([]*events.Envelope, error) {
	e, err := events.New(id, app, at, actor, p)
	if err != nil {
		var invalid *events.InvalidError
		if errors.As(err, &invalid) {
			return nil, refuse(CodeInvalidPayload, "%v", invalid.Err)
		}
		return nil, err
	}
	return []*events.Envelope{e}, nil
}
