package jet

import (
	"context"
	"sync"
	"time"

	"github.com/chatbackend/chat/events"
)

// Outbox sends a consumer's appends without waiting for the log, so the
// consumer decides its next events while the acknowledgements of the last
// ones travel, and confirms them at Flush (a consumer with an Outbox is a
// Flusher: Durable acknowledges its events only after Flush). Runs are sent
// in order on one Appender, so the log stores them in order. A run whose
// acknowledgement fails is appended again at Flush; the log deduplicates
// by event id, so a run stored twice counts once, though it may then land
// after runs sent later.
//
// Send is called by one goroutine (the consumer's handler), Flush by one
// at a time (Durable's flusher); the two may run together.
type Outbox struct {
	Appender *Appender
	// Stored, when set, is called with each run once the log has it, run
	// after run in the order they were sent (from another goroutine).
	Stored func(evs []*events.Envelope)

	mu   sync.Mutex
	runs []*outboxRun  // sent, not yet confirmed by a Flush, in order
	last chan struct{} // the last run's done
}

type outboxRun struct {
	evs  []*events.Envelope
	done chan struct{} // closed once err is set
	err  error         // the acknowledgement's failure; nil: stored
}

// outboxAckWait is how long a run waits for its acknowledgement before
// Flush appends it again.
const outboxAckWait = 10 * time.Second

// Send starts appending evs; the Outbox keeps the slice. On error some of
// them may have been sent: sending them again is safe.
func (o *Outbox) Send(evs []*events.Envelope) error {
	p, err := o.Appender.Start(evs)
	if err != nil {
		return err
	}
	r := &outboxRun{evs: evs, done: make(chan struct{})}
	o.mu.Lock()
	prev := o.last
	o.runs, o.last = append(o.runs, r), r.done
	o.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), outboxAckWait)
		defer cancel()
		_, r.err = p.Wait(ctx)
		if prev != nil {
			<-prev // runs are confirmed in order
		}
		if r.err == nil && o.Stored != nil {
			o.Stored(evs)
		}
		close(r.done)
	}()
	return nil
}

// Flush returns once every run sent before the call is in the log,
// appending again those whose acknowledgement failed.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	runs := o.runs[:len(o.runs):len(o.runs)]
	o.mu.Unlock()
	for _, r := range runs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err == nil {
			continue
		}
		if _, err := o.Appender.AppendAll(ctx, r.evs); err != nil {
			return err
		}
		r.err = nil
		if o.Stored != nil {
			o.Stored(r.evs)
		}
	}
	o.mu.Lock()
	o.runs = append(o.runs[:0:0], o.runs[len(runs):]...)
	o.mu.Unlock()
	return nil
}

// Pending is how many runs wait for a Flush.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.runs)
}
