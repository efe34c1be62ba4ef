package webhooks

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// Subject is where app's WebhooksChanged events are stored.
func Subject(app string) string { return events.SubjectOf(app, &events.WebhooksChanged{}) }

// allChanges matches every application's WebhooksChanged events.
var allChanges = events.SubjectRoot + ".*.app." + events.TypeWebhooksChanged.Dotted()

// Current reads app's webhooks as the log holds them now, and the position
// of the change that set them (0: never configured). The log is read, not
// the read model: a PUT is visible to the next GET at once.
func Current(ctx context.Context, js jetstream.JetStream, app string) (*events.WebhooksChanged, uint64, error) {
	e, seq, err := jet.LastOn(ctx, js, Subject(app))
	if err != nil || e == nil {
		return &events.WebhooksChanged{}, 0, err
	}
	doc, err := asChange(e)
	return doc, seq, err
}

func decodeChange(data []byte) (*events.WebhooksChanged, error) {
	e, err := events.Decode(data)
	if err != nil {
		return nil, err
	}
	return asChange(e)
}

func asChange(e *events.Envelope) (*events.WebhooksChanged, error) {
	p, err := e.Payload()
	if err != nil {
		return nil, err
	}
	doc, ok := p.(*events.WebhooksChanged)
	if !ok {
		return nil, fmt.Errorf("webhooks: event %s is a %s", e.ID, e.Type)
	}
	return doc, nil
}

// history is an application's webhook documents in log order.
type history []change

type change struct {
	seq uint64
	doc *events.WebhooksChanged
}

// at is the document in force at position seq (nil before the first).
func (h history) at(seq uint64) *events.WebhooksChanged {
	var doc *events.WebhooksChanged
	for _, c := range h {
		if c.seq > seq {
			break
		}
		doc = c.doc
	}
	return doc
}

// addedAt is the position of the change that last added webhook id.
func (h history) addedAt(id string) uint64 {
	var added uint64
	present := false
	for _, c := range h {
		now := find(c.doc, id) != nil
		if now && !present {
			added = c.seq
		}
		present = now
	}
	return added
}

func find(doc *events.WebhooksChanged, id string) *events.Webhook {
	if doc == nil {
		return nil
	}
	for i := range doc.Webhooks {
		if doc.Webhooks[i].ID == id {
			return &doc.Webhooks[i]
		}
	}
	return nil
}
