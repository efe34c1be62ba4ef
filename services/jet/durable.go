package jet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Stateful is a consumer whose decisions depend on what came before in the log
// (membership for routing and moderation). Its state lives in memory and is
// rebuilt from the log at start: Restore folds events the consumer already
// acted on; Handle folds and acts on new ones.
//
// Handle must be idempotent per event: after a crash the events since the last
// acknowledgement are handed over again.
type Stateful interface {
	Restore(evs []*events.Envelope)
	Handle(ctx context.Context, evs []*events.Envelope) error
}

// Flusher is a Stateful whose effects leave before they are confirmed (a
// delivery sent, its acknowledgement to come). The runner calls Flush, which
// returns once every effect sent before the call is confirmed, before it
// acknowledges the events behind them; it does so at most every AckEvery,
// so confirmations are awaited once for many batches rather than once each.
// Flush runs beside Handle, not between two calls of it: events keep being
// handled while confirmations travel (a broker's PUBACKs take a round trip
// that would otherwise stall every delivery behind it), so Flush must be
// safe to call while Handle runs.
type Flusher interface {
	Flush(ctx context.Context) error
}

// PoisonError names the event a handler can never process. The runner parks
// it and goes on with the events after it; every other error is retried.
type PoisonError struct {
	Event *events.Envelope
	Err   error
}

func (e *PoisonError) Error() string {
	return fmt.Sprintf("event %d (%s): %v", e.Event.Seq, e.Event.Type, e.Err)
}
func (e *PoisonError) Unwrap() error { return e.Err }

// Durable runs a Stateful consumer under a durable name.
type Durable struct {
	JS      jetstream.JetStream
	Name    string
	Handler Stateful
	Log     *slog.Logger
	// Filter, when set, are the only subjects the server delivers the
	// consumer (events.SubjectsOf): it reads every event otherwise. The
	// restore still reads the whole log up to the consumer's position.
	Filter []string
	// MaxBatch bounds how many events one Handle call receives.
	MaxBatch int
	// Ready, when set, is closed once the state is restored and the consumer
	// is live.
	Ready chan struct{}
	// AckEvery is how often a Flusher's events are confirmed and acknowledged
	// (default 20ms).
	AckEvery time.Duration

	backoff Backoff
}

// Run restores state from the log up to the durable's acknowledged position,
// then handles new events until ctx ends. Acknowledgement is cumulative
// (AckAll): one ack per batch.
func (d *Durable) Run(ctx context.Context) error {
	if d.MaxBatch <= 0 {
		d.MaxBatch = 500
	}
	d.backoff = Backoff{Name: d.Name, Log: d.Log}
	park := NewParker(d.JS, d.Name, d.Log)
	cons, floor, err := d.open(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	restored := 0
	if floor > 0 {
		err := Read(ctx, d.JS, ReadOptions{From: 1, Until: floor, Max: 2000, Park: NewParker(d.JS, d.Name+"-restore", d.Log)},
			func(_ context.Context, b Batch) error {
				d.Handler.Restore(b.Events)
				restored += len(b.Events)
				return nil
			})
		if err != nil {
			return fmt.Errorf("restore %s to %d: %w", d.Name, floor, err)
		}
	}
	d.Log.Info("consumer live", "consumer", d.Name, "restored_events", restored, "position", floor, "took", time.Since(start).Round(time.Millisecond))
	if d.Ready != nil {
		close(d.Ready)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * d.MaxBatch))
	if err != nil {
		return fmt.Errorf("consume %s: %w", d.Name, err)
	}
	if d.AckEvery <= 0 {
		d.AckEvery = 20 * time.Millisecond
	}
	flusher, _ := d.Handler.(Flusher)
	var unacked jetstream.Msg // last message handled, not yet acknowledged
	lastAck := time.Now()
	// flushing holds a token while a flush and the acknowledgement after it
	// are under way; a later one waits for the next batch or quiet moment.
	// Neither outlives Run.
	flushing := make(chan struct{}, 1)
	flushCtx, stopFlush := context.WithCancel(ctx)
	var flushes sync.WaitGroup
	defer func() {
		stopFlush()
		flushes.Wait()
	}()
	ack := func() error {
		if unacked == nil {
			return nil
		}
		m := unacked
		if flusher == nil {
			d.doubleAck(ctx, m)
			unacked, lastAck = nil, time.Now()
			return nil
		}
		select {
		case flushing <- struct{}{}:
		default:
			return nil
		}
		unacked, lastAck = nil, time.Now()
		flushes.Add(1)
		go func() {
			defer func() { <-flushing; flushes.Done() }()
			// Retried until it succeeds or Run ends: the events after m are
			// not acknowledged meanwhile, so a restart sends them again.
			err := d.backoff.Retry(flushCtx, "flush", func() error { return flusher.Flush(flushCtx) })
			if err == nil {
				d.doubleAck(flushCtx, m)
			}
		}()
		return nil
	}
	opts := pumpOptions{max: d.MaxBatch}
	if flusher != nil {
		opts.idle = d.AckEvery
	}
	return pump(ctx, it, opts, func(msgs []jetstream.Msg) error {
		if len(msgs) == 0 { // quiet: confirm what is pending
			return ack()
		}
		b, err := decode(ctx, msgs, park)
		if err != nil {
			return err
		}
		if err := d.handle(ctx, b.Events, park); err != nil {
			return err
		}
		Progress(d.Name, b)
		unacked = msgs[len(msgs)-1]
		if flusher == nil || time.Since(lastAck) >= d.AckEvery {
			return ack()
		}
		return nil
	})
}

// doubleAck acknowledges m and every message before it (AckAll).
func (d *Durable) doubleAck(ctx context.Context, m jetstream.Msg) {
	if err := m.DoubleAck(ctx); err != nil {
		// Not fatal: the events come again and Handle is idempotent.
		d.Log.Warn("ack failed", "consumer", d.Name, "err", err)
	}
}

// open declares the durable consumer and returns it with its acknowledged
// position. Events a previous run received but did not acknowledge would
// only come back once their ack wait expires; the consumer is recreated at
// the position after its floor instead, so a restart resumes at once. Each
// durable has one running instance (partitions will have one each).
func (d *Durable) open(ctx context.Context) (jetstream.Consumer, uint64, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       d.Name,
		Description:   "chat " + d.Name,
		FilterSubject: events.AllEvents,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 20000,
		MaxDeliver:    -1,
	}
	if len(d.Filter) > 0 {
		cfg.FilterSubject, cfg.FilterSubjects = "", d.Filter
	}
	var floor uint64
	if cons, err := d.JS.Consumer(ctx, events.Stream, d.Name); err == nil {
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("consumer %s info: %w", d.Name, err)
		}
		floor = info.AckFloor.Stream
		if info.NumAckPending == 0 && info.Delivered.Stream <= floor {
			cons, err := d.JS.CreateOrUpdateConsumer(ctx, events.Stream, cfg)
			if err != nil {
				return nil, 0, fmt.Errorf("declare consumer %s: %w", d.Name, err)
			}
			return cons, floor, nil
		}
		if err := d.JS.DeleteConsumer(ctx, events.Stream, d.Name); err != nil {
			return nil, 0, fmt.Errorf("reset consumer %s: %w", d.Name, err)
		}
		d.Log.Info("consumer resumes after its acknowledged position", "consumer", d.Name, "position", floor,
			"unacknowledged", info.NumAckPending)
		if floor > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, 0, fmt.Errorf("consumer %s: %w", d.Name, err)
	}
	cons, err := d.JS.CreateOrUpdateConsumer(ctx, events.Stream, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("declare consumer %s: %w", d.Name, err)
	}
	return cons, floor, nil
}

// handle hands evs to the handler, retrying transient errors with backoff
// until ctx ends, and parks poison events: those the handler names
// (PoisonError) and those it panics on, with the panic and a short stack as
// the reason. A panic the handler does not attribute to an event (one
// outside an events.Router) is located by handing the events over one at a
// time; the one that panics again is parked.
func (d *Durable) handle(ctx context.Context, evs []*events.Envelope, park *Parker) error {
	per := len(evs) // events per call: 1 while locating a panic
	for len(evs) > 0 {
		part := evs[:min(per, len(evs))]
		var bad *events.Envelope
		var why error
		locate := false
		err := d.backoff.Retry(ctx, "handler", func() error {
			err := d.call(ctx, part)
			var poison *PoisonError
			var panicked *events.PanicError
			switch {
			case errors.As(err, &poison):
				bad, why = poison.Event, poison.Err
			case errors.As(err, &panicked) && panicked.Event == nil && len(part) > 1:
				locate = true
			case errors.As(err, &panicked):
				if panicked.Event == nil {
					panicked.Event = part[0]
				}
				bad, why = panicked.Event, panicked
			default:
				return err // nil, or transient: retried
			}
			return nil // not to be retried: parked or located below
		})
		switch {
		case err != nil:
			return err
		case locate:
			d.Log.Warn("handler panicked on a batch; handing its events over one at a time", "consumer", d.Name,
				"first", part[0].Seq, "last", part[len(part)-1].Seq)
			per = 1
			continue
		case bad == nil:
			evs = evs[len(part):]
			continue
		}
		subject, _ := bad.Subject()
		if err := park.Park(ctx, subject, bad.Seq, mustEncode(bad), why); err != nil {
			return err
		}
		i := slices.Index(evs, bad)
		if i < 0 {
			return fmt.Errorf("consumer %s: poison event %d is not in the batch", d.Name, bad.Seq)
		}
		evs, per = evs[i+1:], len(evs)
	}
	return nil
}

// call runs the handler, turning a panic into a *events.PanicError.
func (d *Durable) call(ctx context.Context, evs []*events.Envelope) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = events.Recovered(v, nil)
		}
	}()
	return d.Handler.Handle(ctx, evs)
}

func mustEncode(e *events.Envelope) []byte {
	b, _ := e.Encode() // an envelope that decoded encodes again
	return b
}
