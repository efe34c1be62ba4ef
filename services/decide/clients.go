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

// Clients decides whether a user connects from a client they never used,
// at the position of their last ClientSeen (chat.evt.{app}.user.{id}.client.seen):
// the clients seen are folded from those events, and a new one is recorded
// only if no other landed in between, so two chatd instances seeing the
// same new client record it once. Users' sets are cached (up to 4096
// users) with the position they reflect; each decision reads what the log
// holds after it (one request when nothing is new).
type Clients struct {
	js      jetstream.JetStream
	appends *jet.Appender

	mu    sync.Mutex
	users map[key]*clientsEntry
}

type clientsEntry struct {
	mu   sync.Mutex
	pos  uint64
	seen map[string]bool
}

// clientsCached bounds the users whose clients are kept in memory.
const clientsCached = 4096

// NewClients returns the decider of users' clients.
func NewClients(js jetstream.JetStream, appends *jet.Appender) *Clients {
	return &Clients{js: js, appends: appends, users: map[key]*clientsEntry{}}
}

// Seen records that user connected from clientID (an MQTT client id) at
// time at and reports whether that client is new while the user had used others
// before: the case worth telling them.
func (d *Clients) Seen(ctx context.Context, app, user, clientID string, at time.Time) (bool, error) {
	en := d.entry(app, user)
	en.mu.Lock()
	defer en.mu.Unlock()
	subject := events.ClientsSubject(app, user)
	client := events.ClientHash(clientID)
	for attempt := 0; attempt < Attempts; attempt++ {
		if err := d.catchUp(ctx, en, subject); err != nil {
			return false, err
		}
		if en.seen[client] {
			return false, nil
		}
		e, err := events.New(events.ClientSeenID(app, user, client), app, at, events.Actor{ID: user, Type: events.ActorUser},
			&events.ClientSeen{UserID: user, Client: client})
		if err != nil {
			return false, err
		}
		_, err = d.appends.AppendAt(ctx, subject, en.pos, []*events.Envelope{e})
		if err == nil {
			return len(en.seen) > 0, nil // folded by the next catch-up
		}
		if !errors.Is(err, jet.ErrConflict) {
			return false, err
		}
		conflictsMetric.Inc()
	}
	return false, fmt.Errorf("decide clients of %s/%s: %w", app, user, ErrBusy)
}

func (d *Clients) entry(app, user string) *clientsEntry {
	k := key{app, user}
	d.mu.Lock()
	defer d.mu.Unlock()
	if en := d.users[k]; en != nil {
		return en
	}
	if len(d.users) >= clientsCached {
		for old := range d.users { // any one: it is folded again when needed
			delete(d.users, old)
			break
		}
	}
	en := &clientsEntry{seen: map[string]bool{}}
	d.users[k] = en
	return en
}

func (d *Clients) catchUp(ctx context.Context, en *clientsEntry, subject string) error {
	stream, err := d.js.Stream(ctx, events.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.Stream, err)
	}
	return readAfter(ctx, d.js, stream, subject, func() uint64 { return en.pos },
		func(seq uint64, subj string, data []byte) {
			en.pos = max(en.pos, seq)
			e, err := jet.Decode(seq, subj, data)
			if err != nil {
				return // parked by the consumers: skipped alike
			}
			if p, err := e.Payload(); err == nil {
				if c, ok := p.(*events.ClientSeen); ok {
					en.seen[c.Client] = true
				}
			}
		})
}
