// Package revoked keeps the users whose tokens no longer work, folded from
// the log by every chatd: the anonymous visitors converted into known
// clients (events.AnonymousConverted). A token of theirs is refused at MQTT
// CONNECT and on REST from the moment this chatd has read the conversion.
package revoked

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// Subjects are where conversions are stored, in every application and
// conversation.
var Subjects = events.SubjectRoot + ".*.conv.*." + events.TypeAnonymousConverted.Dotted()

type key struct{ app, user string }

// Set is the users revoked so far.
type Set struct {
	mu    sync.RWMutex
	users map[key]struct{}
	// grew is closed, and replaced, whenever a user is added: Wait's signal.
	grew chan struct{}
	// OnRevoke, when set, runs for each user added while Follow runs
	// (after the initial load): the broker ends their live sessions.
	OnRevoke func(app, user string)
}

// New returns an empty set.
func New() *Set { return &Set{users: map[key]struct{}{}, grew: make(chan struct{})} }

// Revoked reports whether user of app may no longer authenticate.
func (s *Set) Revoked(app, user string) bool {
	if !events.IsAnonymous(user) {
		return false // only visitors are ever revoked: known users skip the lock
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.users[key{app, user}]
	return ok
}

// Wait returns true once user of app is revoked here, false if ctx ends
// first: a conversion answers only once its visitor's token stopped working.
func (s *Set) Wait(ctx context.Context, app, user string) bool {
	for {
		s.mu.RLock()
		_, ok := s.users[key{app, user}]
		grew := s.grew
		s.mu.RUnlock()
		if ok {
			return true
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return false
		}
	}
}

func (s *Set) add(app, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{app, user}
	if _, ok := s.users[k]; ok {
		return false
	}
	s.users[k] = struct{}{}
	close(s.grew)
	s.grew = make(chan struct{})
	return true
}

// Load folds every conversion stored so far, so no revoked token is
// accepted while chatd starts; it returns the position Follow goes on from.
func (s *Set) Load(ctx context.Context, js jetstream.JetStream) (next uint64, _ error) {
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return 0, fmt.Errorf("revoked tokens: %w", err)
	}
	last, err := stream.GetLastMsgForSubject(ctx, Subjects)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("revoked tokens: %w", err)
	}
	errDone := errors.New("done")
	err = read(ctx, js, 1, func(seq uint64, app, user string) error {
		if user != "" {
			s.add(app, user)
		}
		if seq >= last.Sequence {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		return 0, err
	}
	return last.Sequence + 1, nil
}

// Follow folds the conversions stored from position from on, until ctx
// ends or the log cannot be read.
func (s *Set) Follow(ctx context.Context, js jetstream.JetStream, from uint64) error {
	return read(ctx, js, from, func(_ uint64, app, user string) error {
		if user != "" && s.add(app, user) && s.OnRevoke != nil {
			s.OnRevoke(app, user)
		}
		return nil
	})
}

// read calls fn with each conversion from position from: its application
// and visitor, or an empty user for one that does not decode or is stored
// under a subject not its own.
func read(ctx context.Context, js jetstream.JetStream, from uint64, fn func(seq uint64, app, user string) error) error {
	err := jet.Follow(ctx, js, Subjects, from, func(seq uint64, m jetstream.Msg) error {
		app, user := decode(m)
		return fn(seq, app, user)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("revoked tokens: %w", err)
	}
	return err
}

func decode(m jetstream.Msg) (app, user string) {
	e, err := events.Decode(m.Data())
	if err != nil {
		return "", ""
	}
	p, err := e.Payload()
	if err != nil {
		return "", ""
	}
	c, ok := p.(*events.AnonymousConverted)
	if !ok || events.SubjectOf(e.App, p) != m.Subject() {
		return "", ""
	}
	return e.App, c.AnonymousID
}
