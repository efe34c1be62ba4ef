package decide

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// UserRoom decides changes to a user's own room, each at the position of
// the user's last event of that kind: the last SettingsChanged under
// chat.evt.{app}.user.{id}.settings.changed is the document in force, the
// last NotificationsRead the read mark; a change is appended only if it
// still is the last one.
type UserRoom struct {
	js      jetstream.JetStream
	appends *jet.Appender
}

// NewUserRoom returns the user room's decider.
func NewUserRoom(js jetstream.JetStream, appends *jet.Appender) *UserRoom {
	return &UserRoom{js: js, appends: appends}
}

// SettingsDecision returns the change to append given the settings in force
// (nil: nothing changes), or a refusal. It must be pure.
type SettingsDecision func(current events.UserSettings) (*events.Envelope, error)

// ChangeSettings decides on the user's settings in force.
func (d *UserRoom) ChangeSettings(ctx context.Context, app, user string, decide SettingsDecision) (Outcome, error) {
	return d.decide(ctx, events.SettingsSubject(app, user), func(last events.Payload) (*events.Envelope, error) {
		current := events.DefaultSettings()
		if p, ok := last.(*events.SettingsChanged); ok {
			current = p.Settings
		}
		return decide(current)
	})
}

// MarkRead decides on the user's read mark (0 before the first).
func (d *UserRoom) MarkRead(ctx context.Context, app, user string, decide func(upTo uint64) (*events.Envelope, error)) (Outcome, error) {
	return d.decide(ctx, events.NotificationsReadSubject(app, user), func(last events.Payload) (*events.Envelope, error) {
		var upTo uint64
		if p, ok := last.(*events.NotificationsRead); ok {
			upTo = p.UpTo
		}
		return decide(upTo)
	})
}

// decide calls decide with the last event under subject (nil: none) and
// appends its change on the condition that it is still the last, deciding
// again when another landed in between.
func (d *UserRoom) decide(ctx context.Context, subject string, decide func(last events.Payload) (*events.Envelope, error)) (Outcome, error) {
	for attempt := 0; attempt < Attempts; attempt++ {
		last, pos, err := d.last(ctx, subject)
		if err != nil {
			return Outcome{}, err
		}
		e, err := decide(last)
		if err != nil || e == nil {
			return Outcome{Pos: pos}, err
		}
		evs := []*events.Envelope{e}
		res, err := d.appends.AppendAt(ctx, subject, pos, evs)
		if err == nil {
			return Outcome{Events: evs, Appended: res, Pos: pos}, nil
		}
		if !errors.Is(err, jet.ErrConflict) {
			return Outcome{}, err
		}
		conflictsMetric.Inc()
	}
	return Outcome{}, fmt.Errorf("decide on %s: %w", subject, ErrBusy)
}

// last is the payload of the last event under subject and its position;
// nil at 0 before the first.
func (d *UserRoom) last(ctx context.Context, subject string) (events.Payload, uint64, error) {
	stream, err := d.js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: %w", events.Stream, err)
	}
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("last event under %s: %w", subject, err)
	}
	e, err := jet.Decode(m.Sequence, m.Subject, m.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("event %d under %s: %w", m.Sequence, subject, err)
	}
	p, err := e.Payload()
	if err != nil {
		return nil, 0, fmt.Errorf("event %d under %s: %w", m.Sequence, subject, err)
	}
	return p, m.Sequence, nil
}
