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
// from the log and decides again, a bounded number of times. A stale
// decision can therefore never take effect, whichever chatd instance made
// it.
//
// Reading the log for every command would cost requests and wildcard scans
// of the stream per command, so the Decider keeps the states of recently
// used conversations in memory (a bounded LRU) with the position each one
// reflects, and keeps them current from a feed (Follow): one ordered
// consumer on every event, delivering new ones, that folds each event into
// its conversation's state when that state is cached. A state is first
// folded from the log (catch-up: it asks the stream for the conversation's
// last sequence, then folds the events after the cached position, up to 16
// with single "next message on these subjects" requests, the rest with an
// ordered consumer filtered on the conversation). The entry is cached before
// that fold, so the feed sees every later event: those it delivers while the
// fold runs are held and folded after it, in stream order; events at or
// before a state's position are skipped. From then on a command is decided
// on the cached state without reading the log. A conversation created
// while the feed runs is cached from its creation event on, so even its
// first command reads nothing (events stored under its subjects before its
// creation never count: State.Apply). The state may lag the log by
// what the feed has not delivered yet: then the conditional append fails,
// the state is caught up from the log and the command decided again. A
// decision that appends nothing (a refusal, or nothing to change) made on a
// state the log was not read for is confirmed the same way, by a catch-up,
// so it is never answered from a lagging state either. The command's own
// events are folded into its state as soon as they are acknowledged, at the
// sequences the acknowledgements give, so the next command of the same
// client does not trip over them. Without a feed, or while it is down
// (it is restarted with a backoff, and every state is caught up from the log
// again), every decision catches up first. The cache is an optimisation
// only: a state evicted, or never seen by this process, is folded again from
// the log, and the conditional append guards correctness either way.
//
// Locks: a conversation's command lock serialises this process's commands
// on it and is held across the append; its state lock is held only while
// the state is folded or a decision runs on it, so the feed never waits for
// an append's round trip.
//
// Memory: a cached state holds the conversation's members and, per message,
// its ids and flags (not its content); 4096 conversations by default.
package decide

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

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

var (
	conflictsMetric = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_decide_conflicts_total",
		Help: "Decisions whose conditional append found the conversation moved on, and were decided again.",
	})
	logFoldsMetric = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_decide_log_folds_total",
		Help: "Catch-ups of a conversation's decision state that read the log.",
	})
)

// Decider decides commands at a position of the log and appends their
// effects on that condition.
type Decider struct {
	js      jetstream.JetStream
	appends *jet.Appender
	max     int

	mu    sync.Mutex
	log   logStream
	lru   *list.List // of *entry, most recently used first
	index map[key]*list.Element

	// feed is the generation of the running feed, 0 when none runs: a
	// catch-up keeps its state fed only if the same feed ran throughout.
	feed     atomic.Uint64
	feedGens atomic.Uint64
	// logFolds and conflicts count as the metrics do, per Decider (tests).
	logFolds, conflicts atomic.Uint64

	// Test hooks: beforeAppend runs just before a decision's append, at the
	// position decided at; beforeFeed before the feed handles an event.
	beforeAppend func(conv string, pos uint64)
	beforeFeed   func(seq uint64)
}

type key struct{ app, conv string }

// entry is one cached state. cmd serialises this process's commands on the
// conversation, so they do not race each other needlessly; it is held
// across the append. mu guards the state and is held only while folding or
// deciding.
type entry struct {
	key key
	cmd sync.Mutex

	mu    sync.Mutex
	state *State
	// fed is true once the state was folded from the log while the feed
	// ran, and the same feed has run since: the feed keeps it current.
	fed bool
	// held are the events the feed delivered while the state was not fed,
	// folded after the catch-up; lost when more came than held keeps.
	held []held
	lost bool
}

type held struct {
	seq     uint64
	subject string
	data    []byte
}

// holdAtMost bounds the events held for a state while it is caught up.
const holdAtMost = 1024

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

// Decide calls decide on the conversation's state and appends its events on
// the condition that the conversation has not moved since the position
// decided at. The state is the cached one when the feed keeps it current,
// otherwise it is first caught up from the log. On a conflict it catches up
// from the log and decides again. decide must be pure: it may run several
// times. A refusal (or any error decide returns) is returned as it is and
// nothing is appended.
func (d *Decider) Decide(ctx context.Context, app, conv string, decide Decision) (Outcome, error) {
	en := d.entry(app, conv)
	en.cmd.Lock()
	defer en.cmd.Unlock()
	filter := events.ConversationSubjects(app, conv)
	read := false // the log was read for this decision
	for attempt, conflicts := 0, 0; attempt < Attempts; attempt++ {
		if !read && !en.isFed() {
			if err := d.catchUp(ctx, en, filter); err != nil {
				return Outcome{}, err
			}
			read = true
		}
		en.mu.Lock()
		pos := en.state.Pos
		evs, err := decide(en.state)
		en.mu.Unlock()
		if err != nil || len(evs) == 0 {
			if !read {
				// Decided on what the feed brought: confirm on the log.
				if cerr := d.catchUp(ctx, en, filter); cerr != nil {
					return Outcome{}, cerr
				}
				read = true
				if en.pos() != pos {
					continue
				}
			}
			return Outcome{Pos: pos}, err
		}
		if d.beforeAppend != nil {
			d.beforeAppend(conv, pos)
		}
		res, err := d.appends.AppendAt(ctx, filter, pos, evs)
		if err == nil {
			en.foldOwn(evs, res)
			return Outcome{Events: evs, Appended: res, Pos: pos}, nil
		}
		if !errors.Is(err, jet.ErrConflict) {
			return Outcome{}, err
		}
		d.conflicts.Add(1)
		conflictsMetric.Inc()
		// Lost a race, the state lagged the log, or part of a multi-event
		// command landed: fold what is new from the log and decide again.
		// From the second conflict on, after a short pause that grows, so
		// contenders spread out.
		if conflicts++; conflicts > 1 {
			if err := sleep(ctx, time.Duration(conflicts-1)*time.Duration(conflicts-1)*2*time.Millisecond); err != nil {
				return Outcome{}, err
			}
		}
		if err := d.catchUp(ctx, en, filter); err != nil {
			return Outcome{}, err
		}
		read = true
	}
	return Outcome{}, fmt.Errorf("decide on %s/%s: %w", app, conv, ErrBusy)
}

// State calls fn with the conversation as of its last event in the log
// (it always reads the log). The state is shared with later decisions: fn
// must not modify or keep it.
func (d *Decider) State(ctx context.Context, app, conv string, fn func(*State) error) error {
	en := d.entry(app, conv)
	en.cmd.Lock()
	defer en.cmd.Unlock()
	if err := d.catchUp(ctx, en, events.ConversationSubjects(app, conv)); err != nil {
		return err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
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

// cached is the entry of a conversation if it is cached, without touching
// the LRU order.
func (d *Decider) cached(k key) *entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	if el := d.index[k]; el != nil {
		return el.Value.(*entry)
	}
	return nil
}

func (en *entry) isFed() bool {
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.fed
}

func (en *entry) pos() uint64 {
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.state.Pos
}

// foldAt folds one event read from the log, unless the state is past it.
func (en *entry) foldAt(seq uint64, subject string, data []byte) {
	en.mu.Lock()
	defer en.mu.Unlock()
	if seq > en.state.Pos {
		en.state.fold(seq, subject, data)
	}
}

// foldOwn folds a command's own events where the log acknowledged them: the
// append's condition means nothing of the conversation lies between the
// position decided at and them. A duplicate is the log's earlier copy and
// is left to the feed or the next catch-up.
func (en *entry) foldOwn(evs []*events.Envelope, res []jet.Appended) {
	en.mu.Lock()
	defer en.mu.Unlock()
	for i, a := range res {
		if i >= len(evs) || a.Duplicate {
			return
		}
		if a.Seq <= en.state.Pos {
			continue // the feed was first
		}
		e := *evs[i]
		e.Seq = a.Seq
		_ = en.state.Apply(&e)
	}
}

// fetchAtMost is how many events catchUp fetches one request at a time
// before it reads the rest with a consumer: a state caught up recently is
// usually a few events behind, and single gets create nothing on the server.
const fetchAtMost = 16

// catchUp folds the conversation's events after the entry's position, up to
// the last one stored under filter. The caller holds the entry's command
// lock; the feed may fold into a fed state meanwhile, which is harmless as
// both fold in stream order and skip what the state already holds.
func (d *Decider) catchUp(ctx context.Context, en *entry, filter string) error {
	d.logFolds.Add(1)
	logFoldsMetric.Inc()
	stream, err := d.eventStream(ctx)
	if err != nil {
		return err
	}
	// The feed running now delivers every event stored after readAfter
	// looks up the last position; what it delivered before is in the log
	// up to there.
	gen := d.feed.Load()
	en.mu.Lock()
	if !en.fed {
		en.held, en.lost = nil, false
	}
	en.mu.Unlock()
	if err := readAfter(ctx, d.js, stream, filter, en.pos, en.foldAt); err != nil {
		return err
	}
	en.fedFrom(d, gen)
	return nil
}

// Follow keeps the cached states current until ctx ends: one ordered
// consumer delivers every new event of the log, each folded into its
// conversation's state if that state is cached. When the consumer fails it
// is logged, every state is caught up from the log again before its next
// decision, and the consumer is started again after a backoff. It returns
// ctx's error.
func (d *Decider) Follow(ctx context.Context, log *slog.Logger) error {
	b := jet.Backoff{Name: "decide-feed", Log: log}
	return b.Retry(ctx, "decision state feed", func() error {
		err := d.follow(ctx)
		d.unfeed()
		if ctx.Err() != nil {
			return nil // Retry returns ctx's error
		}
		return err
	})
}

// follow runs one ordered consumer until it fails or ctx ends.
func (d *Decider) follow(ctx context.Context) error {
	cons, err := d.js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.AllEvents},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	// Messages creates the consumer: it delivers every event stored from
	// now on, so the states caught up from here on miss nothing.
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	d.feed.Store(d.feedGens.Add(1))
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("feed: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("feed: %w", err)
		}
		if d.beforeFeed != nil {
			d.beforeFeed(md.Sequence.Stream)
		}
		d.feedOne(md.Sequence.Stream, m.Subject(), m.Data())
	}
}

// feedOne folds one event delivered by the feed into its conversation's
// state, if cached: at once if the state is fed, else held for the end of
// its catch-up.
func (d *Decider) feedOne(seq uint64, subject string, data []byte) {
	k, ok := conversationOf(subject)
	if !ok {
		return
	}
	en := d.cached(k)
	if en == nil {
		if strings.HasSuffix(subject, createdSuffix) {
			d.born(k, seq, subject, data)
		}
		return
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	switch {
	case en.fed:
		if seq > en.state.Pos {
			en.state.fold(seq, subject, data)
		}
	case en.lost:
	case len(en.held) >= holdAtMost:
		en.held, en.lost = nil, true
	default:
		en.held = append(en.held, held{seq: seq, subject: subject, data: data})
	}
}

// createdSuffix ends the subject of a conversation's creation.
var createdSuffix = "." + events.TypeConversationCreated.Dotted()

// born caches the state of a conversation created while the feed runs,
// folded from its creation: everything after it comes through the feed, and
// nothing before it counts (State.Apply), so its first decision needs no
// read of the log either.
func (d *Decider) born(k key, seq uint64, subject string, data []byte) {
	en := d.entry(k.app, k.conv)
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.fed || en.state.Pos != 0 || len(en.held) > 0 || d.feed.Load() == 0 {
		return // someone was first: the usual catch-up applies
	}
	en.state.fold(seq, subject, data)
	en.fed = en.state.Conversation() != nil
}

// unfeed marks that no feed runs: every state is caught up from the log
// before its next decision.
func (d *Decider) unfeed() {
	d.feed.Store(0)
	d.mu.Lock()
	ens := make([]*entry, 0, len(d.index))
	for el := d.lru.Front(); el != nil; el = el.Next() {
		ens = append(ens, el.Value.(*entry))
	}
	d.mu.Unlock()
	for _, en := range ens {
		en.mu.Lock()
		en.fed, en.held, en.lost = false, nil, false
		en.mu.Unlock()
	}
}

// conversationOf is the conversation a subject chat.evt.{app}.conv.{id}.…
// belongs to.
func conversationOf(subject string) (key, bool) {
	rest, ok := strings.CutPrefix(subject, events.SubjectRoot+".")
	if !ok {
		return key{}, false
	}
	app, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return key{}, false
	}
	rest, ok = strings.CutPrefix(rest, "conv.")
	if !ok {
		return key{}, false
	}
	conv, _, ok := strings.Cut(rest, ".")
	if !ok {
		return key{}, false
	}
	return key{app, conv}, true
}

// fedFrom ends a catch-up that began while feed generation gen ran: if the
// same feed still runs, the events it held for the state are folded and the
// feed keeps the state current from now on.
func (en *entry) fedFrom(d *Decider, gen uint64) {
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.fed {
		return
	}
	// Checked under the state lock: a feed that stops after this clears
	// fed under the same lock.
	if gen != 0 && d.feed.Load() == gen && !en.lost {
		for _, h := range en.held {
			if h.seq > en.state.Pos {
				en.state.fold(h.seq, h.subject, h.data)
			}
		}
		en.fed = true
	}
	en.held, en.lost = nil, false
}

// fold applies one stored event. One the consumers park (it does not decode,
// or is stored under a subject not its own) is skipped alike.
func (s *State) fold(seq uint64, subject string, data []byte) {
	e, err := jet.Decode(seq, subject, data)
	if err != nil {
		s.Pos = max(s.Pos, seq)
		return
	}
	_ = s.Apply(e) // a payload that does not decode is parked by the consumers: skipped alike
}

// eventStream is the event log's handle, looked up once.
func (d *Decider) eventStream(ctx context.Context) (jetstream.Stream, error) {
	return d.log.get(ctx, d.js)
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

// logStream looks the event log's stream up once.
type logStream struct {
	mu     sync.Mutex
	stream jetstream.Stream
}

func (l *logStream) get(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stream != nil {
		return l.stream, nil
	}
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.Stream, err)
	}
	l.stream = s
	return s, nil
}
