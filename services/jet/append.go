package jet

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	p, err := a.Start(evs)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a run of appends sent to the log and not yet acknowledged.
type Pending struct{ futures []jetstream.PubAckFuture }

// Start sends events in order without waiting for the log; Wait collects
// the acknowledgements. Runs started one after another on one Appender are
// stored in that order. On error some events may have been sent: appending
// them again is safe because the log deduplicates by event id.
func (a *Appender) Start(evs []*events.Envelope) (*Pending, error) {
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
	return &Pending{futures: futures}, nil
}

// Wait returns where each event landed, once the log has acknowledged them
// all, or the first error.
func (p *Pending) Wait(ctx context.Context) ([]Appended, error) {
	out := make([]Appended, len(p.futures))
	for i, f := range p.futures {
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

// ErrConflict is the log refusing a conditional append: the subjects it was
// conditioned on moved past the expected position (see AppendAt).
var ErrConflict = errors.New("the log moved past the expected position")

// AppendAt stores evs in order, each only if the last event stored under the
// subjects matching filter (a wildcard such as chat.evt.{app}.conv.{id}.>) is
// still the one expected: last for the first event, then the one before it.
// The server checks the condition (Nats-Expected-Last-Subject-Sequence with
// Nats-Expected-Last-Subject-Sequence-Subject) as it stores the event, so
// nothing can slip in between a decision made at position last and its
// effect. When the condition fails the error wraps ErrConflict and the
// events before the one refused stay stored: they were decided at their own
// position. Events go one at a time, each waiting for its acknowledgement.
func (a *Appender) AppendAt(ctx context.Context, filter string, last uint64, evs []*events.Envelope) ([]Appended, error) {
	out := make([]Appended, 0, len(evs))
	for _, e := range evs {
		m, err := Msg(e)
		if err != nil {
			return out, err
		}
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
		m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
		ack, err := a.js.PublishMsg(ctx, m)
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
				return out, fmt.Errorf("append %s at %d: %w", m.Subject, last, ErrConflict)
			}
			return out, fmt.Errorf("append %s: %w", m.Subject, err)
		}
		out = append(out, Appended{Seq: ack.Sequence, Duplicate: ack.Duplicate})
		last = ack.Sequence
	}
	return out, nil
}
