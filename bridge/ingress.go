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
	// Window is how many batches may wait for the log at once (default 4).
	Window int

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
	tok := c.SubscribeMultiple(filters, in.Handle)
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

// Handle queues a command for Run. It is the subscriptions' handler and the
// connection's default one (ClientOptions.OnMessage), which takes what the
// persistent session delivers before Subscribe has run again.
func (in *Ingress) Handle(_ paho.Client, m paho.Message) { in.queue <- m }

// Connected reports whether the bridge holds its subscriptions.
func (in *Ingress) Connected() bool { return in.connected.Load() }

// Lost is the connection-lost handler.
func (in *Ingress) Lost(_ paho.Client, err error) {
	in.connected.Store(false)
	in.Log.Warn("bridge lost the broker, reconnecting", "err", err)
}

// Run turns queued commands into events until ctx ends, in two stages so
// the next commands are read and sent to the log while earlier ones wait
// for its acknowledgement: this goroutine takes queued commands in batches,
// answers what it refuses at once (parsing, rate limits) and starts the
// batch's appends; a second one waits for each batch's appends in arrival
// order, decides its edits, deletes and receipts, sends its
// command.rejected answers and only then acknowledges its messages to the
// broker. At most Window batches are between the two.
//
// Appends are started in arrival order on one connection, so the log
// stores a sender's commands in the order the broker delivered them. A
// batch holding edits, deletes or receipts is settled before the next one
// starts: they are decided after the sends before them are in the log, and
// their own appends come before the sends after them. When an append fails
// the batch is appended again (the log deduplicates): as without
// pipelining, a retried event may then land after later ones.
func (in *Ingress) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := in.Window
	if window <= 0 {
		window = defaultWindow
	}
	started := make(chan *inflight, window-1) // plus the one being settled
	settled := make(chan error, 1)
	go func() {
		err := in.settleAll(ctx, started)
		if err != nil {
			cancel()
		}
		settled <- err
	}()
	in.read(ctx, started)
	close(started)
	err := <-settled
	if errors.Is(err, context.Canceled) {
		return nil // unacknowledged commands come again after restart
	}
	return err
}

// defaultWindow is how many batches may wait for the log at once.
const defaultWindow = 4

// inflight is a batch whose appends are started and not yet acknowledged.
type inflight struct {
	msgs    []paho.Message
	evs     []*events.Envelope
	actions []string
	pending *jet.Pending // nil: the appends could not start, append again
	decided []*Command   // edits, deletes and receipts, decided once evs are in
	replies []Delivery
	done    chan struct{} // closed once settled, when the next batch must wait
}

// read batches queued commands and starts their appends until ctx ends.
func (in *Ingress) read(ctx context.Context, started chan<- *inflight) {
	for {
		var batch []paho.Message
		select {
		case <-ctx.Done():
			return
		case m := <-in.queue:
			batch = append(make([]paho.Message, 0, min(in.MaxBatch, len(in.queue)+1)), m)
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
		b := in.start(batch)
		select {
		case started <- b:
		case <-ctx.Done():
			return
		}
		if b.done != nil {
			select {
			case <-b.done:
			case <-ctx.Done():
				return
			}
		}
	}
}

// start turns a batch into events and refusals and sends its appends.
func (in *Ingress) start(batch []paho.Message) *inflight {
	now := in.Now()
	b := &inflight{msgs: batch}
	for _, m := range batch {
		cmd, action, reply := command(in.Apps, in.Limits, in.Log, m.Topic(), m.Payload(), now)
		if reply != nil {
			b.replies = append(b.replies, *reply)
		}
		switch {
		case cmd == nil:
		case cmd.Live != nil && in.live == nil:
			if d := rejected(in.Log, cmd.prefix, cmd.Live.App, cmd.Live.User,
				reject(action, "", CodeUnsupported, "action %q is not available here", action), now); d != nil {
				b.replies = append(b.replies, *d)
			}
		case cmd.Live != nil:
			in.live.send(cmd.Live, "")
			commandsTotal.WithLabelValues(action, "relayed").Inc()
		case cmd.Decided != nil || cmd.Receipt != nil:
			b.decided = append(b.decided, cmd)
		default:
			b.evs = append(b.evs, cmd.Event)
			b.actions = append(b.actions, action)
		}
	}
	if len(b.evs) > 0 {
		p, err := in.Append.Start(b.evs)
		if err != nil {
			in.Log.Warn("ingress append not started, retrying", "err", err, "events", len(b.evs))
		} else {
			b.pending = p
		}
	}
	if len(b.decided) > 0 {
		b.done = make(chan struct{})
	}
	return b
}

// settleAll settles started batches in order until started is closed.
func (in *Ingress) settleAll(ctx context.Context, started <-chan *inflight) error {
	for b := range started {
		if err := in.settle(ctx, b); err != nil {
			return err
		}
		if b.done != nil {
			close(b.done)
		}
	}
	return nil
}

// settle waits for a batch's appends, appending again until the log takes
// them, decides its edits, deletes and receipts, answers rejections and
// acknowledges every message in arrival order.
func (in *Ingress) settle(ctx context.Context, b *inflight) error {
	if len(b.evs) > 0 {
		var res []jet.Appended
		var err error
		if b.pending != nil {
			res, err = b.pending.Wait(ctx)
		}
		if b.pending == nil || err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			retry := jet.Backoff{Name: "ingress", First: 20 * time.Millisecond, Max: 2 * time.Second, Log: in.Log}
			err = retry.Retry(ctx, "append", func() error {
				res, err = in.Append.AppendAll(ctx, b.evs)
				return err
			}, "events", len(b.evs))
			if err != nil {
				return err
			}
		}
		for i, r := range res {
			countAppended(b.actions[i], r)
		}
	}
	replies := b.replies
	// Edits, deletes and receipts are decided after the batch's sends are in the log,
	// so one that follows its message's send in the batch finds it.
	for _, cmd := range b.decided {
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
	for _, m := range b.msgs {
		m.Ack()
	}
	return nil
}
