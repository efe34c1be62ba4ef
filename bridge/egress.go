package bridge

import (
	"context"
	"fmt"
	"sync"

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
// not acknowledged are published again at the next Flush.
type ClientDeliverer struct {
	C       paho.Client
	mu      sync.Mutex
	pending []pendingPub
}

type pendingPub struct {
	d   Delivery
	tok paho.Token // nil: to publish again
}

func (d *ClientDeliverer) Send(x Delivery) {
	tok := d.C.Publish(x.Topic, 1, false, x.Payload)
	d.mu.Lock()
	d.pending = append(d.pending, pendingPub{x, tok})
	d.mu.Unlock()
}

func (d *ClientDeliverer) Flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.pending {
		if d.pending[i].tok == nil {
			d.pending[i].tok = d.C.Publish(d.pending[i].d.Topic, 1, false, d.pending[i].d.Payload)
		}
	}
	for i, p := range d.pending {
		var err error
		select {
		case <-p.tok.Done():
			err = p.tok.Error()
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			var again []pendingPub
			for _, q := range d.pending[i:] {
				if !isDone(q.tok) || q.tok.Error() != nil {
					again = append(again, pendingPub{d: q.d})
				}
			}
			d.pending = again
			return fmt.Errorf("deliver to %s: %w", p.d.Topic, err)
		}
	}
	d.pending = d.pending[:0]
	return nil
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
