package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
)

var deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chat_webhook_deliveries_total",
	Help: "Webhook requests by application and result: delivered, failed (to be tried again) or parked (given up after the last attempt).",
}, []string{"app", "result"})

// sender delivers one webhook's events, read from its durable consumer.
type sender struct {
	target
	name     string
	cons     jetstream.Consumer
	js       jetstream.JetStream
	sealer   *Sealer
	settings config.WebhookSettings
	post     *poster
	log      *slog.Logger
	docAt    func(app string, seq uint64) *events.WebhooksChanged

	hook   *events.Webhook // the configuration in force; nil once removed
	secret string
}

func (s *sender) run(ctx context.Context) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		s.log.Error("webhook: consumer info", "err", err)
		return
	}
	// The configuration as it stood at the consumer's position; changes
	// after it come through the consumer, in order.
	s.configure(s.docAt(s.app, max(info.AckFloor.Stream, s.added)))
	it, err := s.cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		s.log.Error("webhook: consume", "err", err)
		return
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	park := jet.NewParker(s.js, s.name, s.log)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				s.log.Error("webhook: consume", "err", err)
			}
			return
		}
		if err := s.handle(ctx, msg, park); err != nil {
			if ctx.Err() != nil {
				return // stopping: the event comes again to the next sender
			}
			s.log.Error("webhook: could not settle an event; it comes again", "err", err)
			_ = msg.NakWithDelay(5 * time.Second)
			continue
		}
		if err := msg.DoubleAck(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("webhook: ack failed; the event will be sent again", "err", err)
		}
	}
}

// configure takes webhook id's settings from doc; without it there, the
// sender delivers nothing more (the manager removes it).
func (s *sender) configure(doc *events.WebhooksChanged) {
	s.hook = find(doc, s.id)
	if s.hook == nil {
		return
	}
	secret, err := s.sealer.Open(s.app, s.id, s.hook.SealedSecret)
	if err != nil {
		s.log.Error("webhook: its secret does not open; deliveries are parked", "err", err)
	}
	s.secret = secret
}

// handle delivers one event if the webhook wants it, or parks it after the
// last attempt. An error means the event is not settled (ctx ended, or
// parking failed).
func (s *sender) handle(ctx context.Context, msg jetstream.Msg, park *jet.Parker) error {
	meta, err := msg.Metadata()
	if err != nil {
		return nil
	}
	seq := meta.Sequence.Stream
	e, err := events.Decode(msg.Data())
	if err != nil {
		return park.Park(ctx, msg.Subject(), seq, msg.Data(), err)
	}
	if e.Type == events.TypeWebhooksChanged {
		doc, err := decodeChange(msg.Data())
		if err == nil {
			s.configure(doc)
		}
		return nil
	}
	if s.hook == nil || !s.hook.Wants(e.Type) {
		return nil
	}
	if spec, ok := events.SpecOf(e.Type); !ok || spec.Internal {
		return nil
	}
	if s.secret == "" {
		return park.Park(ctx, msg.Subject(), seq, msg.Data(), errors.New("webhook "+s.id+": no usable secret"))
	}
	d := delivery{url: s.hook.URL, secret: s.secret, id: deliveryID(s.app, s.id, e.ID), event: e, seq: seq, body: msg.Data()}
	pause := s.settings.RetryFirst
	for attempt := 1; ; attempt++ {
		err := s.post.send(ctx, d)
		if err == nil {
			deliveries.WithLabelValues(s.app, "delivered").Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= s.settings.Attempts {
			deliveries.WithLabelValues(s.app, "parked").Inc()
			return park.Park(ctx, msg.Subject(), seq, msg.Data(),
				fmt.Errorf("webhook %s: %d attempts failed, the last: %w", s.id, attempt, err))
		}
		deliveries.WithLabelValues(s.app, "failed").Inc()
		s.log.Warn("webhook delivery failed, trying again", "seq", seq, "attempt", attempt, "in", pause, "err", err)
		_ = msg.InProgress() // the consumer waits for this event while we retry
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		pause = min(2*pause, maxPause)
	}
}

// maxPause bounds the wait between two attempts.
const maxPause = 10 * time.Minute
