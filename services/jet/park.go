package jet

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Parker moves events a consumer cannot process to the dead-letter stream, with
// the reason, so the consumer can go on (DESIGN invariant 8).
type Parker struct {
	js       jetstream.JetStream
	consumer string
	log      *slog.Logger
}

// NewParker returns a parker for one consumer.
func NewParker(js jetstream.JetStream, consumer string, log *slog.Logger) *Parker {
	return &Parker{js: js, consumer: consumer, log: log}
}

// Park stores a copy of the event at seq with why it was given up on.
func (p *Parker) Park(ctx context.Context, subject string, seq uint64, data []byte, why error) error {
	m := nats.NewMsg(events.DeadLetterSubjectFor(p.consumer))
	m.Data = data
	// A header is one line: a panic's value may hold several.
	m.Header.Set(events.HeaderReason, strings.NewReplacer("\r", " ", "\n", " ").Replace(why.Error()))
	m.Header.Set("Chat-Subject", subject)
	m.Header.Set("Chat-Seq", strconv.FormatUint(seq, 10))
	// One parked copy per consumer and position, however often we retry.
	m.Header.Set(jetstream.MsgIDHeader, p.consumer+":"+strconv.FormatUint(seq, 10))
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("park event %d: %w", seq, err)
	}
	parked.WithLabelValues(p.consumer).Inc()
	p.log.Warn("event parked", "consumer", p.consumer, "seq", seq, "subject", subject, "reason", why)
	return nil
}
