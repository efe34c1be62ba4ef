package natsauth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// accountsSubject holds every application's ServiceAccountCreated events.
var accountsSubject = events.SubjectRoot + ".*.app." + events.TypeServiceAccountCreated.Dotted()

// Load reads the service accounts the log records so far, and the log
// position to Watch from for the ones that come next.
func Load(ctx context.Context, js jetstream.JetStream) (_ []Service, next uint64, _ error) {
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, 0, fmt.Errorf("service accounts: %w", err)
	}
	last, err := s.GetLastMsgForSubject(ctx, accountsSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 1, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("service accounts: %w", err)
	}
	var out []Service
	errDone := errors.New("done")
	err = read(ctx, js, 1, func(seq uint64, s Service, ok bool) error {
		if ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
		if seq >= last.Sequence {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		return nil, 0, err
	}
	return out, last.Sequence + 1, nil
}

// Watch calls fn with each service account appended from position from on,
// until ctx ends or fn fails. The same account may come again.
func Watch(ctx context.Context, js jetstream.JetStream, from uint64, fn func(Service) error) error {
	return read(ctx, js, from, func(_ uint64, s Service, ok bool) error {
		if !ok {
			return nil
		}
		return fn(s)
	})
}

// read calls fn with every account event from position from; ok is false
// for one that does not decode or whose subject is not its own: it gives no
// account.
func read(ctx context.Context, js jetstream.JetStream, from uint64, fn func(seq uint64, s Service, ok bool) error) error {
	err := jet.Follow(ctx, js, accountsSubject, from, func(seq uint64, m jetstream.Msg) error {
		s, ok := decode(m)
		return fn(seq, s, ok)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("service accounts: %w", err)
	}
	return err
}

func decode(m jetstream.Msg) (Service, bool) {
	e, err := events.Decode(m.Data())
	if err != nil {
		return Service{}, false
	}
	p, err := e.Payload()
	if err != nil {
		return Service{}, false
	}
	created, ok := p.(*events.ServiceAccountCreated)
	if !ok || events.SubjectOf(e.App, p) != m.Subject() || (Service{App: e.App, Name: created.Name}).Validate() != nil {
		return Service{}, false
	}
	return Service{App: e.App, Name: created.Name}, true
}
