package jet

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Appended is where an event landed in the log.
type Appended struct {
	Seq uint64
	// Duplicate is true when the log already held an event with the same id;
	// Seq is then the original's position.
	Duplicate bool
}

// Appender writes events to the log.
type Appender struct{ js jetstream.JetStream }

// NewAppender returns an appender on js.
func NewAppender(js jetstream.JetStream) *Appender { return &Appender{js: js} }

// Msg turns an envelope into the stored message: subject from the event,
// Nats-Msg-Id from its id, Chat-Type from its type.
func Msg(e *events.Envelope) (*nats.Msg, error) {
	subj, err := e.Subject()
	if err != nil {
		return nil, err
	}
	body, err := e.Encode()
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subj)
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	m.Header.Set(events.HeaderType, string(e.Type))
	return m, nil
}

// Append stores one event and waits for the log's acknowledgement.
func (a *Appender) Append(ctx context.Context, e *events.Envelope) (Appended, error) {
	res, err := a.AppendAll(ctx, []*events.Envelope{e})
	if err != nil {
		return Appended{}, err
	}
	return res[0], nil
}

// AppendAll stores events in order, pipelined, and waits for every
// acknowledgement. On error some events may be stored: appending again is
// safe because the log deduplicates by event id.
func (a *Appender) AppendAll(ctx context.Context, evs []*events.Envelope) ([]Appended, error) {
	futures := make([]jetstream.PubAckFuture, len(evs))
	for i, e := range evs {
		m, err := Msg(e)
		if err != nil {
			return nil, err
		}
		if futures[i], err = a.js.PublishMsgAsync(m); err != nil {
			return nil, fmt.Errorf("append %s: %w", m.Subject, err)
		}
	}
	out := make([]Appended, len(evs))
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			out[i] = Appended{Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case err := <-f.Err():
			return nil, fmt.Errorf("append %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}
