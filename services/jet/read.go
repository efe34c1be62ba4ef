package jet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
)

// Batch is a run of consecutive events read from the log.
type Batch struct {
	Events []*events.Envelope
	// Last is the stream position of the last message read, parked ones
	// included: the position a consumer has finished with.
	Last uint64
}

// pumpOptions shape the batches pump makes.
type pumpOptions struct {
	max    int           // largest batch
	linger time.Duration // after a first message, how long to wait for more
	idle   time.Duration // when set, fn gets an empty batch after this long without messages
}

// pump reads it in a goroutine and calls fn with every run of messages that
// is already available (at least one, at most max), so work is batched under
// load without waiting for a batch to fill when traffic is light.
func pump(ctx context.Context, it jetstream.MessagesContext, o pumpOptions, fn func([]jetstream.Msg) error) error {
	max, linger := o.max, o.linger
	ch := make(chan jetstream.Msg, 2*max)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					errc <- err
				}
				return
			}
			ch <- m
		}
	}()
	defer func() {
		it.Stop()
		for range ch { // let the reader goroutine finish
		}
	}()
	buf := make([]jetstream.Msg, 0, max)
	// One timer each, reset per batch: a consumer makes thousands of
	// batches a second under load.
	idleTimer, lingerTimer := stoppedTimer(), stoppedTimer()
	defer idleTimer.Stop()
	defer lingerTimer.Stop()
	var idle <-chan time.Time
	for {
		buf = buf[:0]
		if o.idle > 0 {
			idleTimer.Reset(o.idle)
			idle = idleTimer.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
			if err := fn(nil); err != nil {
				return err
			}
			continue
		case m, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					return fmt.Errorf("read stream: %w", err)
				default:
					return ctx.Err()
				}
			}
			buf = append(buf, m)
		}
		var deadline <-chan time.Time
		if linger > 0 {
			lingerTimer.Reset(linger)
			deadline = lingerTimer.C
		}
	fill:
		for len(buf) < max {
			select {
			case m, ok := <-ch:
				if !ok {
					break fill
				}
				buf = append(buf, m)
				continue
			default:
			}
			if deadline == nil {
				break
			}
			select {
			case m, ok := <-ch:
				if !ok {
					break fill
				}
				buf = append(buf, m)
			case <-deadline:
				break fill
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}

// stoppedTimer is a timer to Reset before use (since Go 1.23 a Reset timer
// never delivers a value left from before).
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// decode turns raw messages into a batch, parking those that do not decode
// and those stored under a subject that is not their own.
func decode(ctx context.Context, msgs []jetstream.Msg, park *Parker) (Batch, error) {
	b := Batch{Events: make([]*events.Envelope, 0, len(msgs))}
	for _, m := range msgs {
		seq, err := streamSeq(m)
		if err == nil {
			err = b.add(ctx, m, seq, park)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// streamSeq is m's position in the log.
func streamSeq(m jetstream.Msg) (uint64, error) {
	md, err := m.Metadata()
	if err != nil {
		return 0, fmt.Errorf("message metadata: %w", err)
	}
	return md.Sequence.Stream, nil
}

// add decodes m, at position seq, into b, or parks it when it does not
// decode or is stored under a subject not its own; b ends at seq either way.
func (b *Batch) add(ctx context.Context, m jetstream.Msg, seq uint64, park *Parker) error {
	b.Last = seq
	e, err := Decode(seq, m.Subject(), m.Data())
	if err != nil {
		return park.Park(ctx, m.Subject(), seq, m.Data(), err)
	}
	b.Events = append(b.Events, e)
	return nil
}

// checkSubject refuses an event whose subject disagrees with its envelope's
// application, conversation, user or type: the subject is what permissions
// and filtered consumers trust, so an event must live where it says it
// belongs (a reply or delivery subject pointed into chat.evt.> by someone
// with rights would otherwise put one tenant's event under another's).
func checkSubject(e *events.Envelope, subject string) error {
	if ok, err := e.StoredUnder(subject); ok || err != nil {
		return err
	}
	want, _ := e.Subject()
	return fmt.Errorf("event %s stored under %s, but its app and payload place it under %s", e.ID, subject, want)
}

// ReadOptions select a range of the log.
type ReadOptions struct {
	From  uint64 // first position; 0 or 1 is the start of the log
	Until uint64 // last position, inclusive; 0 reads on forever
	Max   int    // largest batch; default 1000
	// Linger is how long to wait after an event for more to batch with it:
	// fewer, larger transactions for a little latency.
	Linger time.Duration
	// Park receives events that do not decode; required.
	Park *Parker
	// Ahead is how many batches may be read and decoded ahead of fn
	// (default 2): a consumer whose batches sometimes take much longer to
	// apply than others lets the reading go on meanwhile.
	Ahead int
}

// Read calls fn with consecutive batches of the log from o.From, in order,
// until o.Until is reached, ctx ends or fn fails. It keeps no state on the
// server: the caller's checkpoint is the position.
func Read(ctx context.Context, js jetstream.JetStream, o ReadOptions, fn func(context.Context, Batch) error) error {
	if o.Max <= 0 {
		o.Max = 1000
	}
	if o.Until > 0 && o.From > o.Until {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.AllEvents}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if o.From > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = o.From
	}
	cons, err := js.OrderedConsumer(ctx, events.Stream, cfg)
	if err != nil {
		return fmt.Errorf("open reader at %d: %w", o.From, err)
	}
	if o.Ahead <= 0 {
		o.Ahead = 2
	}
	// Decoding runs ahead of fn, a batch or two, so a consumer that writes
	// to a database does not wait for JSON between its writes.
	batches := make(chan Batch, o.Ahead)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var ended <-chan error
	if o.Until > 0 {
		ended, err = readUntil(rctx, cons, o, batches)
	} else {
		ended, err = readOn(rctx, cons, o, batches)
	}
	if err != nil {
		return fmt.Errorf("open reader at %d: %w", o.From, err)
	}
	for b := range batches {
		if err := fn(ctx, b); err != nil {
			stop()
			for range batches { // let the reader finish
			}
			<-ended
			return err
		}
	}
	if err := <-ended; err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// readOn reads the log on forever into batches, as pump makes them, until
// ctx ends or the log cannot be read; then it closes batches and sends why
// on the channel it returns.
func readOn(ctx context.Context, cons jetstream.Consumer, o ReadOptions, batches chan<- Batch) (<-chan error, error) {
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * o.Max))
	if err != nil {
		return nil, err
	}
	ended := make(chan error, 1)
	go func() {
		defer close(batches)
		ended <- pump(ctx, it, pumpOptions{max: o.Max, linger: o.Linger}, func(msgs []jetstream.Msg) error {
			b, err := decode(ctx, msgs, o.Park)
			if err != nil {
				return err
			}
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return ended, nil
}

// readUntil reads the log up to o.Until into batches of o.Max events, then
// closes batches and sends nil on the channel it returns; or the reason it
// stopped before, once ctx ended or the log could not be read. A bounded
// read has no batch to linger over nor idle time to report, so it takes
// each message in a callback and decodes it there: the iterator readOn
// uses makes a timer for every message, and a rebuild reads millions.
func readUntil(ctx context.Context, cons jetstream.Consumer, o ReadOptions, batches chan<- Batch) (<-chan error, error) {
	ended := make(chan error, 1)
	var (
		// The callback runs on one goroutine at a time, but the ordered
		// consumer starts a new subscription when it recreates itself: mu
		// keeps a late call of the old one from overlapping the new one's.
		mu     sync.Mutex
		b      Batch
		over   bool
		reason atomic.Pointer[error] // the last error the client reported
	)
	end := func(err error) {
		over = true
		close(batches)
		ended <- err
	}
	send := func() bool {
		select {
		case batches <- b:
			b = Batch{}
			return true
		case <-ctx.Done():
			end(ctx.Err())
			return false
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if over {
			return
		}
		seq, err := streamSeq(m)
		if err != nil {
			end(err)
			return
		}
		if seq > o.Until { // Until itself was deleted
			if b.Last == 0 || send() {
				end(nil)
			}
			return
		}
		if b.Events == nil {
			b.Events = make([]*events.Envelope, 0, o.Max)
		}
		if err := b.add(ctx, m, seq, o.Park); err != nil {
			end(err)
			return
		}
		if (len(b.Events) == o.Max || seq == o.Until) && send() && seq == o.Until {
			end(nil)
		}
	}, jetstream.PullMaxMessages(2*o.Max), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		reason.Store(&err)
	}))
	if err != nil {
		return nil, err
	}
	// The consumer stops on its own only when it cannot go on (the
	// connection closed); otherwise when ctx ends, then the callback ends
	// the read if it has not yet.
	go func() {
		select {
		case <-cc.Closed():
		case <-ctx.Done():
			cc.Stop()
		}
		mu.Lock()
		defer mu.Unlock()
		if over {
			return
		}
		err := ctx.Err()
		if err == nil {
			err = jetstream.ErrMsgIteratorClosed
			if r := reason.Load(); r != nil {
				err = *r
			}
			err = fmt.Errorf("read stream: %w", err)
		}
		end(err)
	}()
	return ended, nil
}

// LastSeq is the position of the newest event in the log (0 when empty).
func LastSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// LastOn is the newest event stored under subject and its position, or nil
// and 0 when there is none: the current state of a document each event
// replaces whole (an application's webhooks, its moderation rules).
func LastOn(ctx context.Context, js jetstream.JetStream, subject string) (*events.Envelope, uint64, error) {
	stream, err := js.Stream(ctx, events.Stream)
	if err != nil {
		return nil, 0, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("last event on %s: %w", subject, err)
	}
	e, err := events.Decode(m.Data)
	if err != nil {
		return nil, 0, err
	}
	return e, m.Sequence, nil
}

// Follow calls fn with each event stored under filter from position from
// (0 or 1: the start of the log) and its position, in order, until ctx ends,
// fn fails or the log cannot be read: how a process keeps a small state
// (service accounts, revoked tokens) current from the events that make it.
func Follow(ctx context.Context, js jetstream.JetStream, filter string, from uint64, fn func(seq uint64, m jetstream.Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := js.OrderedConsumer(ctx, events.Stream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if err := fn(md.Sequence.Stream, m); err != nil {
			return err
		}
	}
}
