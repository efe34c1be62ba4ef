package bridge

import (
	"context"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ClientOptions name the bridge's own account on a broker.
type ClientOptions struct {
	URL      string // tcp://host:port
	ClientID string
	Username string
	// Password returns the password at each (re)connect, so a token can be
	// refreshed before it expires.
	Password func() string
	// OnConnect runs after every successful (re)connect: subscriptions go here.
	OnConnect func(paho.Client)
	// ManualAck leaves acknowledging received messages to the caller.
	ManualAck bool
	// OnMessage takes messages no subscription of this client claims: a
	// persistent session's queued and unacknowledged messages, which the
	// broker sends right after the connection, before OnConnect has
	// subscribed again. Without it paho drops them unacknowledged and the
	// broker holds them until the next reconnect.
	OnMessage paho.MessageHandler
}

// Dial connects a paho client with a persistent session and automatic
// reconnection, waiting up to ctx for the first connection.
func Dial(ctx context.Context, o ClientOptions) (paho.Client, error) {
	opts := paho.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetCredentialsProvider(func() (string, string) { return o.Username, o.Password() }).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOrderMatters(true).
		SetAutoAckDisabled(o.ManualAck).
		SetWriteTimeout(10 * time.Second)
	if buffersScheme(o.URL) {
		opts.SetCustomOpenConnectionFn(openBuffered)
	}
	if o.OnConnect != nil {
		opts.SetOnConnectHandler(o.OnConnect)
	}
	if o.OnMessage != nil {
		opts.SetDefaultPublishHandler(o.OnMessage)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("mqtt connect %s: %w", o.URL, err)
		}
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, fmt.Errorf("mqtt connect %s: %w", o.URL, ctx.Err())
	}
	return c, nil
}
