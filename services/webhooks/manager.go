package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

// consumerPrefix starts the durable consumer name of every webhook.
const consumerPrefix = "webhook_"

// Manager keeps one sender per configured webhook of every application: it
// follows the WebhooksChanged events of the log, creates the durable
// consumer of a webhook added (starting just after the change that added
// it) and deletes the consumer of one removed.
type Manager struct {
	JS       jetstream.JetStream
	Sealer   *Sealer
	Settings config.WebhookSettings
	Log      *slog.Logger

	mu      sync.Mutex
	apps    map[string]history
	senders map[string]context.CancelFunc // by consumer name
	wg      sync.WaitGroup
	post    *poster
}

// Run follows the log's webhook changes until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	m.apps = map[string]history{}
	m.senders = map[string]context.CancelFunc{}
	m.post = newPoster(m.Settings)
	defer m.wg.Wait()
	cons, err := m.JS.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{allChanges}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("webhooks: follow changes: %w", err)
	}
	pending := cons.CachedInfo().NumPending
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("webhooks: follow changes: %w", err)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	// The whole history first: a webhook removed since is not started,
	// even for a moment.
	for ; pending > 0; pending-- {
		if err := m.next(it); err != nil {
			return ctxErr(ctx, err)
		}
	}
	if err := m.reconcile(ctx); err != nil {
		return err
	}
	for {
		if err := m.next(it); err != nil {
			return ctxErr(ctx, err)
		}
		if err := m.reconcile(ctx); err != nil {
			return err
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// next folds the next change into the histories.
func (m *Manager) next(it jetstream.MessagesContext) error {
	msg, err := it.Next()
	if err != nil {
		return fmt.Errorf("webhooks: follow changes: %w", err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	app := appOf(msg.Subject())
	doc, err := decodeChange(msg.Data())
	if err != nil {
		// Validated before it was appended: only a foreign writer gets here.
		m.Log.Error("webhooks: unreadable change ignored", "seq", meta.Sequence.Stream, "err", err)
		return nil
	}
	m.mu.Lock()
	m.apps[app] = append(m.apps[app], change{seq: meta.Sequence.Stream, doc: doc})
	m.mu.Unlock()
	return nil
}

// appOf is the {app} of chat.evt.{app}.app.webhooks.changed.
func appOf(subject string) string {
	rest := strings.TrimPrefix(subject, events.SubjectRoot+".")
	app, _, _ := strings.Cut(rest, ".")
	return app
}

// target is one configured webhook and where its deliveries start.
type target struct {
	app, id string
	added   uint64
}

func (t target) consumerName() string {
	h := sha256.Sum256([]byte(t.app + "\x00" + t.id + "\x00" + strconv.FormatUint(t.added, 10)))
	return consumerPrefix + hex.EncodeToString(h[:8])
}

// reconcile makes the consumers and senders match the latest documents.
func (m *Manager) reconcile(ctx context.Context) error {
	want := map[string]target{}
	m.mu.Lock()
	for app, h := range m.apps {
		for _, w := range h[len(h)-1].doc.Webhooks {
			t := target{app: app, id: w.ID, added: h.addedAt(w.ID)}
			want[t.consumerName()] = t
		}
	}
	m.mu.Unlock()
	stream, err := m.JS.Stream(ctx, events.Stream)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	names := stream.ConsumerNames(ctx)
	for name := range names.Name() {
		if _, ok := want[name]; ok || !strings.HasPrefix(name, consumerPrefix) {
			continue
		}
		if stop := m.senders[name]; stop != nil {
			stop()
			delete(m.senders, name)
		}
		if err := stream.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("webhooks: remove %s: %w", name, err)
		}
		m.Log.Info("webhook removed", "consumer", name)
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("webhooks: list consumers: %w", err)
	}
	for name, t := range want {
		if m.senders[name] != nil {
			continue
		}
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   "webhook " + t.id + " of " + t.app,
			FilterSubject: events.SubjectRoot + "." + t.app + ".>",
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:   t.added + 1,
			AckPolicy:     jetstream.AckExplicitPolicy,
			// One at a time: the endpoint receives the log's order.
			MaxAckPending: 1,
			AckWait:       m.Settings.Timeout + 30*time.Second,
			Metadata:      map[string]string{"app": t.app, "webhook": t.id, "added": strconv.FormatUint(t.added, 10)},
		})
		if err != nil {
			return fmt.Errorf("webhooks: consumer of %s/%s: %w", t.app, t.id, err)
		}
		sctx, stop := context.WithCancel(ctx)
		m.senders[name] = stop
		s := &sender{target: t, name: name, cons: cons, js: m.JS, sealer: m.Sealer, settings: m.Settings,
			post: m.post, log: m.Log.With("webhook", t.id, "app", t.app), docAt: m.docAt}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			s.run(sctx)
		}()
		m.Log.Info("webhook started", "app", t.app, "webhook", t.id, "from", t.added+1)
	}
	return nil
}

// docAt is app's webhooks document in force at position seq.
func (m *Manager) docAt(app string, seq uint64) *events.WebhooksChanged {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[app].at(seq)
}
