package moderation

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
)

// RulesSubject is where app's ModerationRulesChanged events are stored.
func RulesSubject(app string) string { return events.SubjectOf(app, &events.ModerationRulesChanged{}) }

// CurrentRules reads app's rules as the log holds them now and the
// position of the change that set them; an application whose rules were
// never recorded has its configured ones, at position 0.
func CurrentRules(ctx context.Context, js jetstream.JetStream, app *config.App) (events.ModerationRules, uint64, error) {
	e, seq, err := jet.LastOn(ctx, js, RulesSubject(app.Name))
	if err != nil || e == nil {
		return app.Moderation.Rules(), 0, err
	}
	p, err := e.Payload()
	if err != nil {
		return events.ModerationRules{}, 0, err
	}
	changed, ok := p.(*events.ModerationRulesChanged)
	if !ok {
		return events.ModerationRules{}, 0, fmt.Errorf("moderation rules: event %s is a %s", e.ID, e.Type)
	}
	return changed.Rules, seq, nil
}

// SeedRules records, once, the configured rules of every application whose
// rules the log does not hold yet: from then on the log decides, and a
// change of the file no longer changes how old messages would be judged.
// The event id derives from the application, so chatd instances starting
// together record one.
func SeedRules(ctx context.Context, js jetstream.JetStream, apps config.Apps, now time.Time) error {
	appender := jet.NewAppender(js)
	for _, app := range apps {
		if _, seq, err := CurrentRules(ctx, js, app); err != nil || seq > 0 {
			if err != nil {
				return err
			}
			continue
		}
		e, err := events.New("rules-initial-"+app.Name, app.Name, now, events.Actor{ID: "chatd", Type: events.ActorSystem},
			&events.ModerationRulesChanged{Rules: app.Moderation.Rules()})
		if err != nil {
			return fmt.Errorf("moderation rules of %s: %w", app.Name, err)
		}
		if _, err := appender.AppendAt(ctx, RulesSubject(app.Name), 0, []*events.Envelope{e}); err != nil && !errors.Is(err, jet.ErrConflict) {
			return fmt.Errorf("record moderation rules of %s: %w", app.Name, err)
		}
	}
	return nil
}

// ErrBusy says concurrent changes kept moving the rules (409).
var ErrBusy = errors.New("the rules changed while this change was made; try again")

// PutRules replaces app's rules with doc on behalf of actor and returns the
// change's position (0 when doc is the rules in force: nothing appended).
// doc must be valid (events.ModerationRules.Validate).
func PutRules(ctx context.Context, js jetstream.JetStream, app *config.App, actor events.Actor, doc events.ModerationRules, now time.Time) (uint64, error) {
	appender := jet.NewAppender(js)
	for range 3 {
		cur, last, err := CurrentRules(ctx, js, app)
		if err != nil {
			return 0, err
		}
		if last > 0 && reflect.DeepEqual(cur, doc) {
			return 0, nil
		}
		e, err := events.New(events.NewEventID(), app.Name, now, actor, &events.ModerationRulesChanged{Rules: doc})
		if err != nil {
			return 0, err
		}
		res, err := appender.AppendAt(ctx, RulesSubject(app.Name), last, []*events.Envelope{e})
		if errors.Is(err, jet.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return res[0].Seq, nil
	}
	return 0, ErrBusy
}
