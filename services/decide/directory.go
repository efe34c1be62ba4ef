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

// Directory is an application's users as the log's directory events set
// them, up to a position: who an announcement may reach. It does no I/O.
type Directory struct {
	users map[string]events.DirectoryUser
	// entities and roles count the users of each, so a target naming one
	// nobody has is told apart from one that reaches nobody active.
	entities, roles map[string]int
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{users: map[string]events.DirectoryUser{}, entities: map[string]int{}, roles: map[string]int{}}
}

// Apply folds one directory event: each user replaces what was there.
func (d *Directory) Apply(p *events.DirectoryUsersUpdated) {
	for _, u := range p.Users {
		if old, ok := d.users[u.ID]; ok {
			d.count(old, -1)
		}
		d.users[u.ID] = u
		d.count(u, 1)
	}
}

func (d *Directory) count(u events.DirectoryUser, n int) {
	add(d.entities, u.Entity, n)
	add(d.roles, u.Role, n)
}

func add(counts map[string]int, k string, n int) {
	if counts[k] += n; counts[k] == 0 {
		delete(counts, k)
	}
}

// User is one user's entry.
func (d *Directory) User(id string) (events.DirectoryUser, bool) {
	u, ok := d.users[id]
	return u, ok
}

// HasEntity and HasRole report whether some user, active or not, has it.
func (d *Directory) HasEntity(e string) bool { return d.entities[e] > 0 }

// HasRole: see HasEntity.
func (d *Directory) HasRole(r string) bool { return d.roles[r] > 0 }

// Directories decide commands at the position of an application's
// directory in the log (DESIGN invariant 9): the directory folded from its
// events (chat.evt.{app}.app.directory.>) up to the last one, P. A
// decision's first event is appended only if P is still the last directory
// event (Nats-Expected-Last-Subject-Sequence-Subject naming the directory's
// subjects, whatever the event's own subject): a directory write that slips
// in makes the command decided again on the newer directory. Each
// application's directory stays in memory with its position; a command
// reads only the directory events appended since.
type Directories struct {
	js      jetstream.JetStream
	appends *jet.Appender

	mu     sync.Mutex
	stream jetstream.Stream
	apps   map[string]*directoryEntry
}

type directoryEntry struct {
	cmd sync.Mutex // serialises this process's commands on the directory
	pos uint64
	dir *Directory
}

// NewDirectories returns the directories of every application, read from
// the log on first use.
func NewDirectories(js jetstream.JetStream, appends *jet.Appender) *Directories {
	return &Directories{js: js, appends: appends, apps: map[string]*directoryEntry{}}
}

// DirectoryDecision returns the events a command appends, decided on the
// directory at position pos: none when it changes nothing, or a refusal.
// It must be pure: it may run several times.
type DirectoryDecision func(dir *Directory, pos uint64) ([]*events.Envelope, error)

// Decide runs decide on app's directory as of its last event in the log and
// appends the events it returns: the first on the condition that the
// directory has not moved since, the others after it. A command's events
// therefore all follow its decision's position, with no directory change
// between that position and the first of them. The state must not be kept.
func (ds *Directories) Decide(ctx context.Context, app string, decide DirectoryDecision) (Outcome, error) {
	en := ds.entry(app)
	en.cmd.Lock()
	defer en.cmd.Unlock()
	filter := events.DirectorySubjects(app)
	for attempt := 0; attempt < Attempts; attempt++ {
		if err := ds.catchUp(ctx, app, en, filter); err != nil {
			return Outcome{}, err
		}
		evs, err := decide(en.dir, en.pos)
		if err != nil || len(evs) == 0 {
			return Outcome{Pos: en.pos}, err
		}
		first, err := ds.appends.AppendAt(ctx, filter, en.pos, evs[:1])
		if errors.Is(err, jet.ErrConflict) {
			continue // a directory write came first: decide again on it
		}
		if err != nil {
			return Outcome{}, err
		}
		rest, err := ds.appends.AppendAll(ctx, evs[1:])
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Events: evs, Appended: append(first, rest...), Pos: en.pos}, nil
	}
	return Outcome{}, fmt.Errorf("decide on the directory of %s: %w", app, ErrBusy)
}

func (ds *Directories) entry(app string) *directoryEntry {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	en := ds.apps[app]
	if en == nil {
		en = &directoryEntry{dir: NewDirectory()}
		ds.apps[app] = en
	}
	return en
}

// catchUp folds the directory events stored after the entry's position, up
// to the last one. The caller holds the entry's command lock.
func (ds *Directories) catchUp(ctx context.Context, app string, en *directoryEntry, filter string) error {
	stream, err := ds.eventStream(ctx)
	if err != nil {
		return err
	}
	last, err := lastSeq(ctx, stream, filter)
	if err != nil || last <= en.pos {
		return err
	}
	en.pos, err = ds.read(ctx, app, filter, en.dir, en.pos+1, last, last)
	return err
}

// Before is app's directory as it stood just before position seq (an
// announcement's creation), with the position of its last event: what the
// announcement created there was decided on, since its creation was
// appended on the condition that no directory event came between.
func (ds *Directories) Before(ctx context.Context, app string, seq uint64) (*Directory, uint64, error) {
	dir, filter := NewDirectory(), events.DirectorySubjects(app)
	stream, err := ds.eventStream(ctx)
	if err != nil {
		return nil, 0, err
	}
	last, err := lastSeq(ctx, stream, filter)
	if err != nil || last == 0 || seq <= 1 {
		return dir, 0, err
	}
	pos, err := ds.read(ctx, app, filter, dir, 1, seq-1, last)
	return dir, pos, err
}

// read folds into dir the directory events stored under filter from
// position from up to until, and returns the position of the last one
// folded (from-1 when none). last is the last event under filter: reading
// stops there, or at the first event past until.
func (ds *Directories) read(ctx context.Context, app, filter string, dir *Directory, from, until, last uint64) (uint64, error) {
	pos := from - 1
	cons, err := ds.js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return pos, fmt.Errorf("read %s from %d: %w", filter, from, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return pos, fmt.Errorf("read %s from %d: %w", filter, from, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for pos < last {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return pos, ctx.Err()
			}
			return pos, fmt.Errorf("read %s: %w", filter, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return pos, fmt.Errorf("read %s: %w", filter, err)
		}
		if md.Sequence.Stream > until {
			break
		}
		pos = md.Sequence.Stream
		// An event the consumers park (it does not decode, or was stored
		// under a subject not its own) is skipped alike.
		if e, err := jet.Decode(pos, m.Subject(), m.Data()); err == nil && e.App == app {
			if p, err := e.Payload(); err == nil {
				if u, ok := p.(*events.DirectoryUsersUpdated); ok {
					dir.Apply(u)
				}
			}
		}
	}
	return pos, nil
}

func (ds *Directories) eventStream(ctx context.Context) (jetstream.Stream, error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.stream != nil {
		return ds.stream, nil
	}
	s, err := ds.js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.Stream, err)
	}
	ds.stream = s
	return s, nil
}

// FirstOf is the position of the first event of a conversation in the log
// (its creation), 0 when the log has none: whether a command that creates it
// was carried out, and where.
func (d *Decider) FirstOf(ctx context.Context, app, conv string) (uint64, error) {
	s, err := d.eventStream(ctx)
	if err != nil {
		return 0, err
	}
	filter := events.ConversationSubjects(app, conv)
	m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("first event under %s: %w", filter, err)
	}
	return m.Sequence, nil
}
