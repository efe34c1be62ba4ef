package decide

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
)

// Groups decides commands about a group (team) at the group's position in
// the log, as Decider does for conversations: the decision is a pure
// function of the GroupState folded up to P, the last sequence stored under
// chat.evt.{app}.group.{id}.>, and its events are appended on the condition
// that P is still the last one there. The condition holds whatever subject
// an event goes to, so a conversation created in a group, or a member
// joining one of its conversations, is decided at the group's position too:
// a member removed from the group in between makes it decide again.
//
// Group commands are rare (membership changes), so there is no feed: each
// decision first reads what the log holds after the cached state's
// position (one request when nothing is new). States are cached up to max
// groups; the cache is an optimisation only.
type Groups struct {
	js      jetstream.JetStream
	appends *jet.Appender
	max     int

	log    logStream
	mu     sync.Mutex
	states map[key]*groupEntry
}

type groupEntry struct {
	mu    sync.Mutex // serialises this process's commands on the group
	state *GroupState
}

// NewGroups returns a group decider keeping up to max states (4096 when 0).
func NewGroups(js jetstream.JetStream, appends *jet.Appender, max int) *Groups {
	if max <= 0 {
		max = 4096
	}
	return &Groups{js: js, appends: appends, max: max, states: map[key]*groupEntry{}}
}

// GroupDecision returns the events to append (none when the command changes
// nothing) or a refusal. It must be pure: it may run several times.
type GroupDecision func(g *GroupState) ([]*events.Envelope, error)

// Decide folds the group's state up to its last event, calls decide on it
// and appends the events on the condition that the group has not moved
// since. On a conflict it folds the newer events and decides again.
func (d *Groups) Decide(ctx context.Context, app, group string, decide GroupDecision) (Outcome, error) {
	en := d.entry(app, group)
	en.mu.Lock()
	defer en.mu.Unlock()
	filter := events.GroupSubjects(app, group)
	for attempt := 0; attempt < Attempts; attempt++ {
		if err := d.catchUp(ctx, en.state, filter); err != nil {
			return Outcome{}, err
		}
		pos := en.state.Pos
		evs, err := decide(en.state)
		if err != nil || len(evs) == 0 {
			return Outcome{Pos: pos}, err
		}
		res, err := d.appends.AppendAt(ctx, filter, pos, evs)
		if err == nil {
			return Outcome{Events: evs, Appended: res, Pos: pos}, nil
		}
		if !errors.Is(err, jet.ErrConflict) {
			return Outcome{}, err
		}
		conflictsMetric.Inc()
	}
	return Outcome{}, fmt.Errorf("decide on group %s/%s: %w", app, group, ErrBusy)
}

func (d *Groups) entry(app, group string) *groupEntry {
	k := key{app, group}
	d.mu.Lock()
	defer d.mu.Unlock()
	if en := d.states[k]; en != nil {
		return en
	}
	if len(d.states) >= d.max {
		for old := range d.states { // any one: it is folded again when needed
			delete(d.states, old)
			break
		}
	}
	en := &groupEntry{state: NewGroupState(app, group)}
	d.states[k] = en
	return en
}

// catchUp folds the events stored under filter after g's position.
func (d *Groups) catchUp(ctx context.Context, g *GroupState, filter string) error {
	stream, err := d.eventStream(ctx)
	if err != nil {
		return err
	}
	logFoldsMetric.Inc()
	return readAfter(ctx, d.js, stream, filter, func() uint64 { return g.Pos },
		func(seq uint64, subject string, data []byte) { foldGroup(g, seq, subject, data) })
}

// readAfter folds the events stored under filter after pos() up to the
// last one there: up to 16 with single requests, the rest with an ordered
// consumer (read once then left: the server forgets it soon). fold must
// advance pos past each event it is given. Conversations and groups are
// both caught up this way.
func readAfter(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, filter string,
	pos func() uint64, fold func(seq uint64, subject string, data []byte)) error {
	last, err := lastSeq(ctx, stream, filter)
	if err != nil {
		return err
	}
	for i := 0; i < fetchAtMost && pos() < last; i++ {
		m, err := stream.GetMsg(ctx, pos()+1, jetstream.WithGetMsgSubject(filter))
		if err != nil {
			return fmt.Errorf("read %s from %d: %w", filter, pos()+1, err)
		}
		fold(m.Sequence, m.Subject, m.Data)
	}
	if pos() >= last {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       pos() + 1,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", filter, pos()+1, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", filter, pos()+1, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for pos() < last {
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
		fold(md.Sequence.Stream, m.Subject(), m.Data())
	}
	return nil
}

// foldGroup applies one stored event; one the consumers park is skipped
// alike.
func foldGroup(g *GroupState, seq uint64, subject string, data []byte) {
	if seq <= g.Pos {
		return
	}
	e, err := jet.Decode(seq, subject, data)
	if err != nil {
		g.Pos = seq
		return
	}
	_ = g.Apply(e)
}

// eventStream is the event log's handle, looked up once.
func (d *Groups) eventStream(ctx context.Context) (jetstream.Stream, error) {
	return d.log.get(ctx, d.js)
}
