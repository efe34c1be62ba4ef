package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/decide"
	"github.com/chatbackend/chat/services/jet"
)

// Ingress subscribes to every application's commands and appends the events
// they produce. A command is acknowledged to the broker only after the log
// acknowledged its event, so a crash anywhere redelivers instead of losing it.
type Ingress struct {
	Apps   config.Apps
	Limits *CommandLimits // nil: commands are not rate-limited
	Append *jet.Appender
	Reply  Deliverer // where command.rejected goes
	// Messages decides edits, deletes and receipts; nil: they are refused as
	// unsupported.
	Messages *decide.Messages
	Log      *slog.Logger
	Now      func() time.Time
	MaxBatch int

	queue     chan paho.Message
	connected atomic.Bool
	live      *liveOut // nil: live signals are refused as unsupported
}

// RelayLive publishes typing, focus and presence through pub. An external
// broker does not show the bridge its clients' connections: focus is then
// per user, and ends with the user's offline presence (the will every
// client sets).
func (in *Ingress) RelayLive(pub LivePublisher) { in.live = newLiveOut(pub, in.Log) }

// NewIngress returns an ingress for apps appending with app; Reply is set
// once the bridge's connection exists, before Run.
func NewIngress(apps config.Apps, app *jet.Appender, log *slog.Logger) *Ingress {
	const maxBatch = 500
	return &Ingress{Apps: apps, Append: app, Log: log, Now: time.Now, MaxBatch: maxBatch,
		queue: make(chan paho.Message, 4*maxBatch)}
}

// Subscribe is the OnConnect handler: it (re)subscribes every command filter.
// With a persistent session the broker keeps the subscriptions too; doing it
// on every connect also covers a broker that lost its state.
func (in *Ingress) Subscribe(c paho.Client) {
	filters := map[string]byte{}
	for _, a := range in.Apps {
		filters[CommandFilter(a.TopicPrefix)] = 1
	}
	tok := c.SubscribeMultiple(filters, func(_ paho.Client, m paho.Message) { in.queue <- m })
	go func() {
		tok.Wait()
		if err := tok.Error(); err != nil {
			in.Log.Error("bridge subscribe failed", "err", err)
			return
		}
		in.connected.Store(true)
		in.Log.Info("bridge subscribed", "filters", len(filters))
	}()
}

// Connected reports whether the bridge holds its subscriptions.
func (in *Ingress) Connected() bool { return in.connected.Load() }

// Lost is the connection-lost handler.
func (in *Ingress) Lost(_ paho.Client, err error) {
	in.connected.Store(false)
	in.Log.Warn("bridge lost the broker, reconnecting", "err", err)
}

// Run turns queued commands into events until ctx ends.
func (in *Ingress) Run(ctx context.Context) error {
	batch := make([]paho.Message, 0, in.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-in.queue:
			batch = append(batch, m)
		}
	fill:
		for len(batch) < in.MaxBatch {
			select {
			case m := <-in.queue:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		if err := in.process(ctx, batch); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil // unacknowledged commands come again after restart
			}
			return err
		}
	}
}

// process appends a batch, retrying until the log takes it, then answers
// rejections and acknowledges every message in arrival order.
func (in *Ingress) process(ctx context.Context, batch []paho.Message) error {
	now := in.Now()
	var evs []*events.Envelope
	var actions []string
	var replies []Delivery
	var decided []*Command
	for _, m := range batch {
		cmd, action, reply := command(in.Apps, in.Limits, in.Log, m.Topic(), m.Payload(), now)
		if reply != nil {
			replies = append(replies, *reply)
		}
		switch {
		case cmd == nil:
		case cmd.Live != nil && in.live == nil:
			if d := rejected(in.Log, cmd.prefix, cmd.Live.App, cmd.Live.User,
				reject(action, "", CodeUnsupported, "action %q is not available here", action), now); d != nil {
				replies = append(replies, *d)
			}
		case cmd.Live != nil:
			in.live.send(cmd.Live, "")
			commandsTotal.WithLabelValues(action, "relayed").Inc()
		case cmd.Decided != nil || cmd.Receipt != nil:
			decided = append(decided, cmd)
		default:
			evs = append(evs, cmd.Event)
			actions = append(actions, action)
		}
	}
	if len(evs) > 0 {
		retry := jet.Backoff{Name: "ingress", First: 20 * time.Millisecond, Max: 2 * time.Second, Log: in.Log}
		err := retry.Retry(ctx, "append", func() error {
			res, err := in.Append.AppendAll(ctx, evs)
			if err == nil {
				for i, r := range res {
					countAppended(actions[i], r)
				}
			}
			return err
		}, "events", len(evs))
		if err != nil {
			return err
		}
	}
	// Edits, deletes and receipts are decided after the batch's sends are in the log,
	// so one that follows its message's send in the batch finds it.
	for _, cmd := range decided {
		if in.Messages == nil {
			app, actor, clientMsgID, at := cmd.origin()
			if d := rejected(in.Log, cmd.prefix, app, actor,
				reject(cmd.Action, clientMsgID, CodeUnsupported, "action %q is not available here", cmd.Action), at); d != nil {
				replies = append(replies, *d)
			}
			continue
		}
		retry := jet.Backoff{Name: "ingress", First: 20 * time.Millisecond, Max: 2 * time.Second, Log: in.Log}
		err := retry.Retry(ctx, "decide", func() error {
			d, err := runDecided(ctx, in.Messages, in.Log, cmd)
			if d != nil {
				replies = append(replies, *d)
			}
			return err
		}, "action", cmd.Action)
		if err != nil {
			return err
		}
	}
	if len(replies) > 0 {
		if err := DeliverAll(ctx, in.Reply, replies); err != nil {
			in.Log.Warn("command.rejected not delivered", "err", err)
		}
	}
	for _, m := range batch {
		m.Ack()
	}
	return nil
}
