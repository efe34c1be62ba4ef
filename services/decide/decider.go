// Package decide makes the command side's permission decisions at a known
// position of the log (DESIGN invariant 9), never from the read model, which
// lags.
//
// A command about a conversation is decided on the conversation's State:
// its members and roles, reply permission, creator and messages, folded
// from its own events (subjects chat.evt.{app}.conv.{id}.>) up to P, the
// last sequence stored under them. The decision is a pure function of that
// state (rules.go: one function per action, tested without servers). Its
// events are appended on the condition that P is still the last sequence
// under those subjects (Nats-Expected-Last-Subject-Sequence, with
// Nats-Expected-Last-Subject-Sequence-Subject naming the wildcard, so events
// of every type count). If anything was appended to the conversation in
// between, the server refuses the append; the Decider folds the newer events
// and decides again, a bounded number of times. A stale decision can
// therefore never take effect, whichever chatd instance made it.
//
// Folding a long conversation's whole history for every command would cost
// a read of the log per command, so the Decider keeps the states of recently
// used conversations in memory (a bounded LRU) with the position each one
// reflects. Before deciding it asks the stream for the conversation's last
// sequence (one request) and folds only the events after the cached
// position: up to 16 with single "next message on these subjects" requests
// (nothing is created on the server), the rest with an ordered consumer
// filtered on the conversation. The cache is an optimisation only: a state
// evicted, or never seen by this process, is folded again from the log, and
// the conditional append guards correctness either way.
//
// Memory: a cached state holds the conversation's members and, per message,
// its ids and flags (not its content); 4096 conversations by default.
package decide

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// Attempts bounds how often one command is decided again after the
// conversation moved under it.
const Attempts = 8

// ErrBusy is a command that lost the race Attempts times in a row: the
// conversation is changing faster than it can be decided. The caller may
// retry later (REST answers 409 conflict).
var ErrBusy = errors.New("conversation changed during every attempt to decide")

// Decider decides commands at a position of the log and appends their
// effects on that condition.
type Decider struct {
	js      jetstream.JetStream
	appends *jet.Appender
	max     int

	mu     sync.Mutex
	stream jetstream.Stream // looked up once
	lru    *list.List       // of *entry, most recently used first
	index  map[key]*list.Element

	// beforeAppend, set by tests only, runs between a decision and its
	// conditional append, with the position the decision was made at.
	beforeAppend func(conv string, pos uint64)
}

type key struct{ app, conv string }

// entry is one cached state; its mutex serialises this process's commands
// on the conversation, so they do not race each other needlessly.
type entry struct {
	key   key
	mu    sync.Mutex
	state *State
}

// New returns a Decider keeping up to max conversation states in memory.
func New(js jetstream.JetStream, appends *jet.Appender, max int) *Decider {
	if max <= 0 {
		max = 4096
	}
	return &Decider{js: js, appends: appends, max: max, lru: list.New(), index: map[key]*list.Element{}}
}

// Decision is what a decide function returns: the events to append (none
// when the command changes nothing) or a refusal.
type Decision func(s *State) ([]*events.Envelope, error)

// Outcome is where a decided command's events landed.
type Outcome struct {
	// Events are the events decided, Appended where each landed.
	Events   []*events.Envelope
	Appended []jet.Appended
	// Pos is the position the final decision was made at.
	Pos uint64
}

// Decide folds the conversation up to its last event, calls decide on the
// state and appends its events on the condition that the conversation has
// not moved since. On a conflict it folds again and decides again. decide
// must be pure: it may run several times. A refusal (or any error decide
// returns) is returned as it is and nothing is appended.
func (d *Decider) Decide(ctx context.Context, app, conv string, decide Decision) (Outcome, error) {
	en := d.entry(app, conv)
	en.mu.Lock()
	defer en.mu.Unlock()
	filter := events.ConversationSubjects(app, conv)
	for attempt := 0; attempt < Attempts; attempt++ {
		if err := d.catchUp(ctx, en, filter); err != nil {
			return Outcome{}, err
		}
		evs, err := decide(en.state)
		if err != nil {
			return Outcome{Pos: en.state.Pos}, err
		}
		if len(evs) == 0 {
			return Outcome{Pos: en.state.Pos}, nil
		}
		if d.beforeAppend != nil {
			d.beforeAppend(conv, en.state.Pos)
		}
		res, err := d.appends.AppendAt(ctx, filter, en.state.Pos, evs)
		if err == nil {
			return Outcome{Events: evs, Appended: res, Pos: en.state.Pos}, nil
		}
		if !errors.Is(err, jet.ErrConflict) {
			return Outcome{}, err
		}
		// Lost a race (or part of a multi-event command landed): fold what
		// the others appended and decide again, after a short pause that
		// grows, so contenders spread out.
		if err := sleep(ctx, time.Duration(attempt+1)*time.Duration(attempt+1)*2*time.Millisecond); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{}, fmt.Errorf("decide on %s/%s: %w", app, conv, ErrBusy)
}

// State calls fn with the conversation as of its last event in the log.
// The state is shared with later decisions: fn must not modify or keep it.
func (d *Decider) State(ctx context.Context, app, conv string, fn func(*State) error) error {
	en := d.entry(app, conv)
	en.mu.Lock()
	defer en.mu.Unlock()
	if err := d.catchUp(ctx, en, events.ConversationSubjects(app, conv)); err != nil {
		return err
	}
	return fn(en.state)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// entry returns the cached entry of a conversation, creating it (and
// evicting the least recently used one) when needed.
func (d *Decider) entry(app, conv string) *entry {
	k := key{app, conv}
	d.mu.Lock()
	defer d.mu.Unlock()
	if el := d.index[k]; el != nil {
		d.lru.MoveToFront(el)
		return el.Value.(*entry)
	}
	en := &entry{key: k, state: NewState(app, conv)}
	d.index[k] = d.lru.PushFront(en)
	for d.lru.Len() > d.max {
		old := d.lru.Back()
		d.lru.Remove(old)
		delete(d.index, old.Value.(*entry).key)
	}
	return en
}

// fetchAtMost is how many events catchUp fetches one request at a time
// before it reads the rest with a consumer: a state caught up recently is
// usually a few events behind, and single gets create nothing on the server.
const fetchAtMost = 16

// catchUp folds the conversation's events after the entry's position, up to
// the last one stored under filter.
func (d *Decider) catchUp(ctx context.Context, en *entry, filter string) error {
	stream, err := d.eventStream(ctx)
	if err != nil {
		return err
	}
	last, err := lastSeq(ctx, stream, filter)
	if err != nil {
		return err
	}
	for i := 0; i < fetchAtMost && en.state.Pos < last; i++ {
		m, err := stream.GetMsg(ctx, en.state.Pos+1, jetstream.WithGetMsgSubject(filter))
		if err != nil {
			return fmt.Errorf("read %s from %d: %w", filter, en.state.Pos+1, err)
		}
		en.state.fold(m.Sequence, m.Subject, m.Data)
	}
	if en.state.Pos >= last {
		return nil
	}
	cons, err := d.js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    en.state.Pos + 1,
		// Read once then left: the server forgets it soon.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", filter, en.state.Pos+1, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", filter, en.state.Pos+1, err)
	}
	defer it.Stop()
	// Next has no context: stop the iterator when ctx ends.
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for en.state.Pos < last {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", filter, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", filter, err)
		}
		en.state.fold(md.Sequence.Stream, m.Subject(), m.Data())
	}
	return nil
}

// fold applies one stored event. One the consumers park (it does not decode,
// or is stored under a subject not its own) is skipped alike.
func (s *State) fold(seq uint64, subject string, data []byte) {
	e, err := events.Decode(data)
	if err == nil {
		if subj, serr := e.Subject(); serr != nil || subj != subject {
			err = fmt.Errorf("event stored under %s, not its own subject", subject)
		}
	}
	if err != nil {
		s.Pos = max(s.Pos, seq)
		return
	}
	e.Seq = seq
	_ = s.Apply(e) // a payload that does not decode is parked by the consumers: skipped alike
}

// eventStream is the event log's handle, looked up once.
func (d *Decider) eventStream(ctx context.Context) (jetstream.Stream, error) {
	d.mu.Lock()
	s := d.stream
	d.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := d.js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.Stream, err)
	}
	d.mu.Lock()
	d.stream = s
	d.mu.Unlock()
	return s, nil
}

// lastSeq is the sequence of the last event stored under filter, 0 when
// there is none.
func lastSeq(ctx context.Context, s jetstream.Stream, filter string) (uint64, error) {
	m, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last event under %s: %w", filter, err)
	}
	return m.Sequence, nil
}
