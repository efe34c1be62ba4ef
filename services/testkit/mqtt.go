package testkit

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Received is one message a test client got.
type Received struct {
	Topic string
	Type  string          `json:"type"`
	Seq   uint64          `json:"seq"`
	Data  json.RawMessage `json:"data"`
	// Payload is the envelope as it arrived, byte for byte.
	Payload []byte `json:"-"`
}

// Client is an MQTT user connected to a broker, subscribed to its own topics.
type Client struct {
	t    testing.TB
	c    paho.Client
	User string

	mu   sync.Mutex
	got  []Received
	wake chan struct{}
}

// Connect connects user with password to the broker at url (tcp://host:port),
// subscribes to prefix/user/{user}/# and records everything it receives.
func Connect(t testing.TB, url, prefix, user, password string) *Client {
	t.Helper()
	cl := &Client{t: t, User: user, wake: make(chan struct{}, 1)}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("test-" + user + "-" + randomHex(3)).
		SetUsername(user).SetPassword(password).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second)
	cl.c = paho.NewClient(opts)
	if tok := cl.c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", user, tok.Error())
	}
	t.Cleanup(func() { cl.c.Disconnect(0) })
	filter := prefix + "/user/" + user + "/#"
	tok := cl.c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		var r Received
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			r.Type = "undecodable: " + string(m.Payload())
		}
		r.Topic, r.Payload = m.Topic(), m.Payload()
		cl.mu.Lock()
		cl.got = append(cl.got, r)
		cl.mu.Unlock()
		select {
		case cl.wake <- struct{}{}:
		default:
		}
	})
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	if st := tok.(*paho.SubscribeToken).Result()[filter]; st >= 0x80 {
		t.Fatalf("subscribe %s refused (code %#x)", filter, st)
	}
	return cl
}

// Paho is the underlying client.
func (cl *Client) Paho() paho.Client { return cl.c }

// Publish sends payload to topic at QoS 1 and waits for the broker's PUBACK.
func (cl *Client) Publish(topic string, payload any) {
	cl.t.Helper()
	var b []byte
	switch p := payload.(type) {
	case []byte:
		b = p
	case string:
		b = []byte(p)
	default:
		var err error
		if b, err = json.Marshal(p); err != nil {
			cl.t.Fatal(err)
		}
	}
	tok := cl.c.Publish(topic, 1, false, b)
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		cl.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// Received returns a copy of everything received so far.
func (cl *Client) Received() []Received {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]Received(nil), cl.got...)
}

// Of returns what was received of one type.
func (cl *Client) Of(typ string) []Received {
	var out []Received
	for _, r := range cl.Received() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Until waits until cond holds of what the client has received, checking
// once per arrival (a condition over everything received costs one pass,
// not one per message held). It gives up after 20 s without any arrival,
// or 2 minutes in all: a long stream of deliveries on a busy machine is
// progress, a stall is not.
func (cl *Client) Until(what string, cond func() bool) {
	cl.t.Helper()
	const idle, limit = 20 * time.Second, 2 * time.Minute
	stalled, deadline := time.NewTimer(idle), time.After(limit)
	defer stalled.Stop()
	for !cond() {
		select {
		case <-cl.wake:
			stalled.Reset(idle)
		case <-stalled.C:
			cl.t.Fatalf("%s never received %s (nothing arrived for %v); got %s", cl.User, what, idle, cl.describe())
		case <-deadline:
			cl.t.Fatalf("%s never received %s within %v; got %s", cl.User, what, limit, cl.describe())
		}
	}
}

// WaitFor waits until a received message satisfies match and returns it.
func (cl *Client) WaitFor(what string, match func(Received) bool) Received {
	cl.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		for _, r := range cl.Received() {
			if match(r) {
				return r
			}
		}
		select {
		case <-cl.wake:
		case <-deadline:
			cl.t.Fatalf("%s never received %s; got %s", cl.User, what, cl.describe())
		}
	}
}

// WaitType waits for a message of type typ whose data contains substr.
func (cl *Client) WaitType(typ, substr string) Received {
	cl.t.Helper()
	return cl.WaitFor(fmt.Sprintf("%s containing %q", typ, substr), func(r Received) bool {
		return r.Type == typ && strings.Contains(string(r.Data), substr)
	})
}

func (cl *Client) describe() string {
	got := cl.Received()
	if len(got) == 0 {
		return "nothing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d messages", len(got))
	if len(got) > 20 {
		fmt.Fprintf(&b, ", the last 20")
		got = got[len(got)-20:]
	}
	for _, r := range got {
		data := string(r.Data)
		if len(data) > 300 {
			data = data[:300] + "…"
		}
		fmt.Fprintf(&b, "\n  %s %s seq=%d %s", r.Topic, r.Type, r.Seq, data)
	}
	return b.String()
}
