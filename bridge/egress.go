package bridge

import (
	"context"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Deliverer hands deliveries to the broker. Deliver returns once the broker has
// taken every one (queued to subscribers or acknowledged at QoS 1); the caller
// acknowledges the events behind them only then.
type Deliverer interface {
	Deliver(ctx context.Context, ds []Delivery) error
}

// BrokerDeliverer delivers through the embedded broker, in process.
type BrokerDeliverer struct{ B *Broker }

func (d BrokerDeliverer) Deliver(_ context.Context, ds []Delivery) error {
	for _, x := range ds {
		if err := d.B.Publish(x.Topic, x.Payload); err != nil {
			return fmt.Errorf("deliver to %s: %w", x.Topic, err)
		}
	}
	return nil
}

// ClientDeliverer delivers through an MQTT connection (an external broker),
// pipelining publishes and waiting for every PUBACK.
type ClientDeliverer struct{ C paho.Client }

func (d ClientDeliverer) Deliver(ctx context.Context, ds []Delivery) error {
	toks := make([]paho.Token, len(ds))
	for i, x := range ds {
		toks[i] = d.C.Publish(x.Topic, 1, false, x.Payload)
	}
	for i, t := range toks {
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return fmt.Errorf("deliver to %s: %w", ds[i].Topic, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
