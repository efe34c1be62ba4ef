package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// View is a webhook as its application's admins read and write it
// (PROTOCOL §3 /webhooks). Secret is optional in a write: omitted, a
// webhook keeps its secret, and a new one gets a random secret.
type View struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret *string  `json:"secret"`
}

// Secret lengths accepted in a write.
const (
	MinSecret = 16
	MaxSecret = 256
)

// InvalidError is a document refused: the caller's mistake (400).
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// ErrBusy says concurrent writers kept changing the document (409).
var ErrBusy = errors.New("the webhooks changed while this change was made; try again")

// Admin reads and replaces applications' webhooks.
type Admin struct {
	JS     jetstream.JetStream
	Append *jet.Appender
	Sealer *Sealer
	Now    func() time.Time
}

// Get is app's webhooks with their secrets.
func (a *Admin) Get(ctx context.Context, app string) ([]View, error) {
	doc, _, err := Current(ctx, a.JS, app)
	if err != nil {
		return nil, err
	}
	return a.views(app, doc)
}

func (a *Admin) views(app string, doc *events.WebhooksChanged) ([]View, error) {
	out := make([]View, 0, len(doc.Webhooks))
	for _, w := range doc.Webhooks {
		secret, err := a.Sealer.Open(app, w.ID, w.SealedSecret)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
		}
		out = append(out, View{ID: w.ID, URL: w.URL, Events: w.Events, Secret: &secret})
	}
	return out, nil
}

// Put replaces app's webhooks with want, on behalf of actor, and returns
// them as stored and the change's position (0 when want is what the log
// holds already: nothing is appended).
func (a *Admin) Put(ctx context.Context, app string, actor events.Actor, want []View) ([]View, uint64, error) {
	if err := check(want); err != nil {
		return nil, 0, &InvalidError{err}
	}
	// Decided on the document at a known position, appended on that
	// condition: a concurrent change makes it read and decide again.
	for range 3 {
		doc, last, err := Current(ctx, a.JS, app)
		if err != nil {
			return nil, 0, err
		}
		next, same, err := a.document(app, doc, want)
		if err != nil {
			return nil, 0, err
		}
		if same {
			views, err := a.views(app, doc)
			return views, 0, err
		}
		e, err := events.New(events.NewEventID(), app, a.Now(), actor, next)
		if err != nil {
			return nil, 0, &InvalidError{err}
		}
		res, err := a.Append.AppendAt(ctx, Subject(app), last, []*events.Envelope{e})
		if errors.Is(err, jet.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		views, err := a.views(app, next)
		return views, res[0].Seq, err
	}
	return nil, 0, ErrBusy
}

// check validates a written document.
func check(want []View) error {
	if len(want) > events.MaxWebhooks {
		return fmt.Errorf("at most %d webhooks", events.MaxWebhooks)
	}
	for i, v := range want {
		if !events.ValidID(v.ID) {
			return fmt.Errorf("[%d].id: %q must match ^[A-Za-z0-9_-]{1,64}$", i, v.ID)
		}
		for _, w := range want[:i] {
			if w.ID == v.ID {
				return fmt.Errorf("[%d].id: %q listed twice", i, v.ID)
			}
		}
		if err := events.CheckWebhookURL(v.URL); err != nil {
			return fmt.Errorf("[%d].url: %w", i, err)
		}
		if err := events.CheckWebhookEvents(v.Events); err != nil {
			return fmt.Errorf("[%d].events: %w", i, err)
		}
		if s := v.Secret; s != nil && (len(*s) < MinSecret || len(*s) > MaxSecret || !printable(*s)) {
			return fmt.Errorf("[%d].secret: %d to %d printable characters", i, MinSecret, MaxSecret)
		}
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return utf8.ValidString(s)
}

// document builds the event that turns doc into want; same reports that
// doc is want already (secrets kept included).
func (a *Admin) document(app string, doc *events.WebhooksChanged, want []View) (_ *events.WebhooksChanged, same bool, _ error) {
	next := &events.WebhooksChanged{Webhooks: make([]events.Webhook, 0, len(want))}
	same = len(doc.Webhooks) == len(want)
	for i, v := range want {
		old := find(doc, v.ID)
		w := events.Webhook{ID: v.ID, URL: v.URL, Events: v.Events}
		switch {
		case v.Secret == nil && old != nil:
			w.SealedSecret = old.SealedSecret
		case v.Secret != nil && old != nil && a.opensTo(app, old, *v.Secret):
			w.SealedSecret = old.SealedSecret
		default:
			secret := ""
			if v.Secret != nil {
				secret = *v.Secret
			} else if s, err := NewSecret(); err != nil {
				return nil, false, err
			} else {
				secret = s
			}
			sealed, err := a.Sealer.Seal(app, v.ID, secret)
			if err != nil {
				return nil, false, err
			}
			w.SealedSecret = sealed
		}
		same = same && doc.Webhooks[i].ID == w.ID && doc.Webhooks[i].URL == w.URL &&
			slices.Equal(doc.Webhooks[i].Events, w.Events) && doc.Webhooks[i].SealedSecret == w.SealedSecret
		next.Webhooks = append(next.Webhooks, w)
	}
	return next, same, nil
}

func (a *Admin) opensTo(app string, w *events.Webhook, secret string) bool {
	s, err := a.Sealer.Open(app, w.ID, w.SealedSecret)
	return err == nil && s == secret
}
