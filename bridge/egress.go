package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Deliverer hands deliveries to the broker. Send starts a delivery at once,
// so the first recipients of a batch do not wait for the last; Flush returns
// once the broker has taken every delivery sent so far (queued to
// subscribers, or acknowledged at QoS 1). The caller acknowledges the events
// behind them only then.
type Deliverer interface {
	Send(d Delivery)
	Flush(ctx context.Context) error
}

// BrokerDeliverer delivers through the embedded broker, in process. A
// delivery the broker refuses is kept and tried again at each Flush.
type BrokerDeliverer struct {
	B      *Broker
	mu     sync.Mutex
	failed []Delivery
}

func (d *BrokerDeliverer) Send(x Delivery) {
	if err := d.B.Publish(x.Topic, x.Payload); err != nil {
		d.mu.Lock()
		d.failed = append(d.failed, x)
		d.mu.Unlock()
	}
}

func (d *BrokerDeliverer) Flush(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	retry := d.failed
	d.failed = nil
	for i, x := range retry {
		if err := d.B.Publish(x.Topic, x.Payload); err != nil {
			d.failed = retry[i:]
			return fmt.Errorf("deliver to %s: %w", x.Topic, err)
		}
	}
	return nil
}

// ClientDeliverer delivers through an MQTT connection (an external broker),
// pipelining publishes and waiting for their PUBACKs at Flush. Deliveries
// not acknowledged are published again at the next Flush. Send waits for
// the oldest PUBACK once Window publishes are unacknowledged, so a broker
// that falls behind slows the sender instead of growing the pipeline.
type ClientDeliverer struct {
	C paho.Client
	// Window is how many publishes may await their PUBACK (default 1024).
	Window  int
	mu      sync.Mutex
	pending []pendingPub
	settled int // pending[:settled] are known done (acknowledged or failed)
}

type pendingPub struct {
	d   Delivery
	tok paho.Token // nil: to publish again
}

// windowWait bounds how long Send waits for room in the window; past it the
// publish goes ahead and Flush waits for the rest.
const windowWait = 10 * time.Second

func (d *ClientDeliverer) Send(x Delivery) {
	tok := d.C.Publish(x.Topic, 1, false, x.Payload)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = append(d.pending, pendingPub{x, tok})
	window := d.Window
	if window <= 0 {
		window = 1024
	}
	for len(d.pending)-d.settled > window {
		if t := d.pending[d.settled].tok; t != nil && !t.WaitTimeout(windowWait) {
			return
		}
		d.settled++
	}
}

// Flush waits for the deliveries sent before it; Send goes on meanwhile,
// and what it sends is the next Flush's. Deliveries that failed are kept,
// ahead of those sent since, to be published again by the next Flush.
func (d *ClientDeliverer) Flush(ctx context.Context) error {
	d.mu.Lock()
	batch := d.pending
	d.pending, d.settled = nil, 0
	for i := range batch {
		if batch[i].tok == nil {
			batch[i].tok = d.C.Publish(batch[i].d.Topic, 1, false, batch[i].d.Payload)
		}
	}
	d.mu.Unlock()
	for i, p := range batch {
		var err error
		select {
		case <-p.tok.Done():
			err = p.tok.Error()
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			var again []pendingPub
			for _, q := range batch[i:] {
				if !isDone(q.tok) || q.tok.Error() != nil {
					again = append(again, pendingPub{d: q.d})
				}
			}
			d.mu.Lock()
			d.pending, d.settled = append(again, d.pending...), 0
			d.mu.Unlock()
			return fmt.Errorf("deliver to %s: %w", p.d.Topic, err)
		}
	}
	return nil
}

// SpreadDeliverer spreads deliveries over several deliverers (one MQTT
// connection each), every user's deliveries through the same one, so a
// user receives them in the order they were sent; the connections' writers
// work in parallel. Send hands a delivery to its part's goroutine and
// returns; Flush waits for every part.
type SpreadDeliverer struct {
	ctx   context.Context
	parts []spreadPart
}

type spreadPart struct {
	d     Deliverer
	queue chan Delivery
	idle  chan chan struct{} // Flush asks the goroutine to report an empty queue
}

// NewSpreadDeliverer runs a goroutine per part until ctx ends; Send then
// drops deliveries (their events are not acknowledged and come again).
func NewSpreadDeliverer(ctx context.Context, parts []Deliverer) *SpreadDeliverer {
	s := &SpreadDeliverer{ctx: ctx, parts: make([]spreadPart, len(parts))}
	for i, d := range parts {
		p := spreadPart{d: d, queue: make(chan Delivery, 1024), idle: make(chan chan struct{})}
		s.parts[i] = p
		go p.run(ctx)
	}
	return s
}

func (p spreadPart) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case x := <-p.queue:
			p.d.Send(x)
		case done := <-p.idle:
			// What was queued before the request goes first: the queue is
			// a FIFO read by this goroutine alone. Sends go on meanwhile
			// (Flush runs beside fan-out), so only those are waited for.
			for n := len(p.queue); n > 0; n-- {
				p.d.Send(<-p.queue)
			}
			close(done)
		}
	}
}

func (s *SpreadDeliverer) Send(x Delivery) {
	p := s.parts[0]
	if len(s.parts) > 1 {
		p = s.parts[recipientHash(x.Topic)%uint32(len(s.parts))]
	}
	select {
	case p.queue <- x:
	case <-s.ctx.Done():
	}
}

// recipientHash hashes the user segment of {prefix}/user/{user}/{kind}
// (the whole topic when it has no such segment).
func recipientHash(topic string) uint32 {
	key := topic
	if _, rest, ok := strings.Cut(topic, "/user/"); ok {
		key, _, _ = strings.Cut(rest, "/")
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

func (s *SpreadDeliverer) Flush(ctx context.Context) error {
	errs := make([]error, len(s.parts))
	var wg sync.WaitGroup
	for i, p := range s.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			select {
			case p.idle <- done:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			select {
			case <-done:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			errs[i] = p.d.Flush(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func isDone(t paho.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// DeliverAll sends ds and flushes.
func DeliverAll(ctx context.Context, d Deliverer, ds []Delivery) error {
	for _, x := range ds {
		d.Send(x)
	}
	return d.Flush(ctx)
}
