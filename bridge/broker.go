package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/ratelimit"
)

var (
	connectRefused = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_connect_refused_total",
		Help: "MQTT connections refused for a missing, invalid or mismatched token.",
	})
	aclDenied = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_acl_denied_total",
		Help: "MQTT publishes and subscriptions refused by the topic ACL.",
	})
	deliveriesDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_deliveries_dropped_total",
		Help: "Messages the embedded broker could not queue for a subscriber. Should stay 0.",
	})
	cleanDiscards = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_clean_session_discards_total",
		Help: "Unacknowledged messages discarded with a clean session that ended (the client catches up over REST).",
	})
	clientsConnected = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chat_mqtt_clients_connected",
		Help: "Authenticated clients connected to the embedded broker.",
	})
	slowWaits = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_slow_client_waits_total",
		Help: "Times fan-out waited for a client's queue to drain before delivering to it.",
	})
	slowDisconnects = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_slow_clients_disconnected_total",
		Help: "Clients disconnected because their queue stayed full past the slow-client timeout.",
	})
	sessionsEnded = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_mqtt_sessions_ended_total",
		Help: "Persistent sessions ended because more deliveries waited for their offline client than the session queue holds; the client reconnects without a session and catches up.",
	})
)

// Broker is the embedded MQTT broker.
type Broker struct {
	srv      *mqtt.Server
	tcp      *listeners.TCP
	ws       *wsListener
	authHook *authHook
	log      *slog.Logger
	// room is how many undelivered messages a client may hold before
	// fan-out waits for it; slowAfter is how long it waits before
	// disconnecting the client.
	room      int
	slowAfter time.Duration
	// sessionQueue is how many deliveries an offline session may hold.
	sessionQueue int
	// closing is the first Close's outcome: mochi's Close runs once.
	closing  sync.Once
	closeErr error
}

// BrokerOptions configure the embedded broker.
type BrokerOptions struct {
	TCPAddr string
	WSAddr  string // empty disables WebSocket
	Secret  []byte
	Apps    config.Apps
	Log     *slog.Logger
	// MaxQueued is each client's write queue, in messages; fan-out waits
	// for a client once three quarters of it are unacknowledged. 0 =
	// config.DefaultClientQueue.
	MaxQueued int32
	// ReadBuffer is the size of each client's read buffer, in bytes; 0 =
	// config.DefaultReadBuffer.
	ReadBuffer int
	// SlowClientTimeout is how long a delivery waits for a client whose
	// queue is full before disconnecting it; 0 = 10s.
	SlowClientTimeout time.Duration
	// SessionQueue is how many deliveries a persistent session keeps while
	// its client is away; one more ends the session. 0 = 1000.
	SessionQueue int
	// WSOrigins are the Origin headers the WebSocket listener accepts
	// ("*" any); a request without one is accepted.
	WSOrigins []string
	// AuthFailures limits failed authentications by client address (nil:
	// no limit).
	AuthFailures *ratelimit.Limiter
	// ClientsSeen records the clients each user connected from, for the
	// security alert on a new one (jet.ClientsSeenConfig; nil: no such alert).
	ClientsSeen jetstream.KeyValue
	// Revoked reports users whose tokens no longer work (converted
	// visitors): refused at CONNECT (nil: none).
	Revoked func(app, user string) bool
}

// StartBroker starts the embedded broker with JWT authentication and the topic ACL.
func StartBroker(o BrokerOptions) (*Broker, error) {
	if o.MaxQueued == 0 {
		o.MaxQueued = config.DefaultClientQueue
	}
	if o.ReadBuffer == 0 {
		o.ReadBuffer = config.DefaultReadBuffer
	}
	if o.SlowClientTimeout == 0 {
		o.SlowClientTimeout = 10 * time.Second
	}
	if o.SessionQueue == 0 {
		o.SessionQueue = 1000
	}
	log := cutLogger(o.Log)
	caps := mqtt.NewDefaultServerCapabilities()
	// Each connection allocates its write queue whole (8 bytes a slot)
	// when it is accepted, so its size is paid by every idle client.
	caps.MaximumClientWritesPending = o.MaxQueued
	caps.MaximumInflight = 65535
	caps.ReceiveMaximum = 1024
	caps.MaximumPacketSize = MaxCommandBytes + 1024
	caps.MaximumSessionExpiryInterval = uint32(SessionExpiry / time.Second)
	// A delivery waits for its session as long as the session lives:
	// an expiry would drop it from the queue of a client that is away.
	caps.MaximumMessageExpiryInterval = 0
	// No retained messages on any topic of ours (see authHook.OnPublish).
	caps.RetainAvailable = 0
	// An MQTT 5 client's topic aliases are kept for its connection: the
	// default (65535) would let one client make the broker hold that many
	// topic names. Our clients publish on a handful of topics.
	caps.TopicAliasMaximum = topicAliasMaximum
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true,
		Logger:       log.With("component", "broker"),
		// Allocated per connection; a larger packet is read straight into
		// its own buffer, so the size only sets how many small packets one
		// read takes in. The write buffer is allocated only while writes
		// are pending, so mochi's default costs an idle client nothing.
		ClientNetReadBufferSize: o.ReadBuffer,
		// See dropRetained: $SYS is published once, at start, and dropped.
		SysTopicResendInterval: math.MaxInt32,
	})
	h := newAuthHook(srv, o.Secret, o.Apps)
	h.authFailures = o.AuthFailures
	h.alerts = newSecurityAlerts(srv, o.Apps, o.ClientsSeen, log.With("component", "security-alerts"))
	h.revoked = o.Revoked
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	b := &Broker{srv: srv, authHook: h, log: log,
		room: int(o.MaxQueued) * 3 / 4, slowAfter: o.SlowClientTimeout, sessionQueue: o.SessionQueue}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.TCPAddr})
	if err := srv.AddListener(b.tcp); err != nil {
		return nil, fmt.Errorf("mqtt listen %s: %w", o.TCPAddr, err)
	}
	if o.WSAddr != "" {
		b.ws = newWSListener("ws", o.WSAddr, o.WSOrigins)
		if err := srv.AddListener(b.ws); err != nil {
			return nil, fmt.Errorf("mqtt websocket listen %s: %w", o.WSAddr, err)
		}
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	dropRetained(srv)
	return b, nil
}

// dropRetained removes the messages mochi retains: its $SYS topics, which
// the ACL lets no client read (nothing else is ever retained). While any
// message is retained, each SUBSCRIBE searches the topic tree for retained
// matches, recursively, through frames of several KiB (mochi passes its
// 800-byte packets by value): the connection's goroutine stack grows to
// 64 KiB and keeps that size until collections shrink it. With nothing
// retained the search returns at once and the stack stays within 16 KiB.
// mochi re-publishes $SYS every SysTopicResendInterval, set to decades,
// which also spares a stop-the-world memory reading a second.
func dropRetained(srv *mqtt.Server) {
	for topic := range srv.Topics.Retained.GetAll() {
		srv.Topics.RetainMessage(packets.Packet{TopicName: topic})
	}
}

// Addr is the TCP listener's address.
func (b *Broker) Addr() string { return b.tcp.Address() }

// WSAddr is the WebSocket listener's address, empty without one.
func (b *Broker) WSAddr() string {
	if b.ws == nil {
		return ""
	}
	return b.ws.Address()
}

// closeWait bounds Close (a variable for tests).
var closeWait = 10 * time.Second

// Close disconnects every client and stops the listeners. mochi's own Close
// can deadlock when a client's connection ends at that very moment (it
// read-locks the clients map twice, and the ending connection's waiting
// write lock blocks the second), so it gets a bound: past it, the broker is
// left as it is and the error says so, and the rest of chatd still stops.
func (b *Broker) Close() error {
	b.closing.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = b.srv.Close()
		}()
		select {
		case <-done:
		case <-time.After(closeWait):
			b.closeErr = errors.New("broker: close stuck on the clients map after " + closeWait.String() + "; stopping without it")
		}
		b.authHook.alerts.close()
	})
	return b.closeErr
}

// topicAliasMaximum is how many topic aliases an MQTT 5 client may set.
const topicAliasMaximum = 16

// SessionExpiry is how long the broker keeps a persistent session whose
// client went away (an MQTT 5 client may ask for less).
const SessionExpiry = 7 * 24 * time.Hour

// Publish hands a message to the broker's subscribers in process, at QoS 1.
// Nothing is dropped for a slow client: first Publish waits until every
// connected client of the topic's user has room in its queue (every queued
// QoS 1 message is in the client's inflight set, so the inflight count
// bounds the queue). A client that stays full past the slow-client timeout
// is disconnected; a persistent session keeps its inflight messages and gets
// them again when it reconnects. A session whose client is away keeps up to
// sessionQueue deliveries; the next one ends the session, so the client
// learns at its CONNACK that it must catch up.
func (b *Broker) Publish(topic string, payload []byte) error {
	if key, ok := userKey(topic); ok && b.authHook.needsAttention(key, b.room, b.sessionQueue) {
		for _, cl := range b.authHook.clientsOf(key) {
			if cl.Closed() {
				b.limitSession(cl)
			} else {
				b.waitForRoom(cl)
			}
		}
	}
	return b.srv.Publish(topic, payload, false, 1)
}

func (b *Broker) limitSession(cl *mqtt.Client) {
	if n := cl.State.Inflight.Len(); n >= b.sessionQueue && b.authHook.endSession(cl) {
		sessionsEnded.Inc()
		b.log.Warn("ended a persistent session: its queue passed the session limit while its client was away",
			"client", cl.ID, "queued", n, "limit", b.sessionQueue)
		b.authHook.alerts.ended(cl.ID, "session queue full while away: catch up with sync")
	}
}

func (b *Broker) waitForRoom(cl *mqtt.Client) {
	if cl.Closed() || cl.State.Inflight.Len() < b.room {
		return
	}
	slowWaits.Inc()
	deadline := time.Now().Add(b.slowAfter)
	for !cl.Closed() && cl.State.Inflight.Len() >= b.room {
		if time.Now().After(deadline) {
			slowDisconnects.Inc()
			b.log.Warn("disconnecting a slow client: its queue stayed full", "client", cl.ID,
				"inflight", cl.State.Inflight.Len(), "waited", b.slowAfter)
			_ = b.srv.DisconnectClient(cl, packets.ErrServerBusy)
			b.authHook.alerts.ended(cl.ID, "slow client: its queue stayed full")
			return
		}
		time.Sleep(time.Millisecond) // the client's write loop drains the queue meanwhile
	}
}

// userKey is "{prefix}/user/{user}" for a topic {prefix}/user/{user}/…, a
// slice of the topic itself.
func userKey(topic string) (string, bool) {
	first := strings.IndexByte(topic, '/')
	if first < 0 || !strings.HasPrefix(topic[first:], "/"+levelUser+"/") {
		return "", false
	}
	start := first + len(levelUser) + 2
	end := strings.IndexByte(topic[start:], '/')
	if end < 0 {
		return topic, true
	}
	return topic[:start+end], true
}
