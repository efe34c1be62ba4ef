package bridge

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
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
)

// Broker is the embedded MQTT broker.
type Broker struct {
	srv      *mqtt.Server
	tcp      *listeners.TCP
	wsAddr   string
	authHook *authHook
	log      *slog.Logger
	// room is how many undelivered messages a client may hold before
	// fan-out waits for it; slowAfter is how long it waits before
	// disconnecting the client.
	room      int
	slowAfter time.Duration
}

// BrokerOptions configure the embedded broker.
type BrokerOptions struct {
	TCPAddr   string
	WSAddr    string // empty disables WebSocket
	Secret    []byte
	Apps      config.Apps
	Log       *slog.Logger
	MaxQueued int32 // per-client write queue; 0 = 1024
	// SlowClientTimeout is how long a delivery waits for a client whose
	// queue is full before disconnecting it; 0 = 10s.
	SlowClientTimeout time.Duration
}

// StartBroker starts the embedded broker with JWT authentication and the topic ACL.
func StartBroker(o BrokerOptions) (*Broker, error) {
	if o.MaxQueued == 0 {
		o.MaxQueued = 1024
	}
	if o.SlowClientTimeout == 0 {
		o.SlowClientTimeout = 10 * time.Second
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = o.MaxQueued
	caps.MaximumInflight = 65535
	caps.ReceiveMaximum = 1024
	caps.MaximumPacketSize = MaxCommandBytes + 1024
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true,
		Logger:       o.Log.With("component", "broker"),
	})
	h := &authHook{secret: o.Secret, apps: o.Apps, conns: map[*mqtt.Client]conn{},
		byUser: map[string]map[*mqtt.Client]struct{}{}}
	for _, a := range o.Apps {
		h.prefixes = append(h.prefixes, a.TopicPrefix)
	}
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	b := &Broker{srv: srv, authHook: h, wsAddr: o.WSAddr, log: o.Log,
		room: int(o.MaxQueued) * 3 / 4, slowAfter: o.SlowClientTimeout}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.TCPAddr})
	if err := srv.AddListener(b.tcp); err != nil {
		return nil, fmt.Errorf("mqtt listen %s: %w", o.TCPAddr, err)
	}
	if o.WSAddr != "" {
		if err := srv.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: o.WSAddr})); err != nil {
			return nil, fmt.Errorf("mqtt websocket listen %s: %w", o.WSAddr, err)
		}
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return b, nil
}

// Addr is the TCP listener's address.
func (b *Broker) Addr() string { return b.tcp.Address() }

// WSAddr is the WebSocket listener's address.
func (b *Broker) WSAddr() string { return b.wsAddr }

// Close disconnects every client and stops the listeners.
func (b *Broker) Close() error { return b.srv.Close() }

// Publish hands a message to the broker's subscribers in process, at QoS 1.
// Nothing is dropped for a slow client: first Publish waits until every
// connected client of the topic's user has room in its queue (every queued
// QoS 1 message is in the client's inflight set, so the inflight count
// bounds the queue). A client that stays full past the slow-client timeout
// is disconnected; a persistent session keeps its inflight messages and gets
// them again when it reconnects.
func (b *Broker) Publish(topic string, payload []byte) error {
	if key, ok := userKey(topic); ok && b.authHook.anyFull(key, b.room) {
		for _, cl := range b.authHook.clientsOf(key) {
			b.waitForRoom(cl)
		}
	}
	return b.srv.Publish(topic, payload, false, 1)
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

// authHook checks the JWT at CONNECT and the topic ACL on every publish and
// subscription.
type authHook struct {
	mqtt.HookBase
	secret   []byte
	apps     config.Apps
	prefixes []string
	mu       sync.RWMutex
	conns    map[*mqtt.Client]conn
	byUser   map[string]map[*mqtt.Client]struct{} // conn.key → connections
}

// conn is what an authenticated connection may do.
type conn struct {
	claims *auth.Claims
	key    string // "{prefix}/user/{user}": its own topics start with this and a slash
}

// anyFull reports whether a connection of key holds room or more messages.
func (h *authHook) anyFull(key string, room int) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.byUser[key] {
		if c.State.Inflight.Len() >= room {
			return true
		}
	}
	return false
}

func (h *authHook) clientsOf(key string) []*mqtt.Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	cs := h.byUser[key]
	if len(cs) == 0 {
		return nil
	}
	out := make([]*mqtt.Client, 0, len(cs))
	for c := range cs {
		out = append(out, c)
	}
	return out
}

// userKeyOf is the key of a user's topics, "{prefix}/user/{user}": the
// topics it may read start with it and a slash.
func (h *authHook) userKeyOf(c *auth.Claims) string {
	if a := h.apps[c.App]; a != nil {
		return a.TopicPrefix + "/" + levelUser + "/" + c.User()
	}
	return ""
}

func (h *authHook) ID() string { return "chat-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnDisconnect,
		mqtt.OnPublishDropped, mqtt.OnQosDropped}, []byte{b})
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	c, err := auth.Verify(h.secret, string(pk.Connect.Password))
	if err != nil || c.User() != user || h.apps[c.App] == nil {
		connectRefused.Inc()
		reason := "unknown application"
		if err != nil {
			reason = err.Error()
		} else if c.User() != user {
			reason = "token subject differs from username"
		}
		h.Log.Warn("security: mqtt connect refused", "username", user, "remote", cl.Net.Remote, "reason", reason)
		return false
	}
	h.mu.Lock()
	key := h.userKeyOf(c)
	h.conns[cl] = conn{claims: c, key: key}
	if h.byUser[key] == nil {
		h.byUser[key] = map[*mqtt.Client]struct{}{}
	}
	h.byUser[key][cl] = struct{}{}
	h.mu.Unlock()
	clientsConnected.Inc()
	return true
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	if cn, ok := h.conns[cl]; ok {
		delete(h.conns, cl)
		key := cn.key
		delete(h.byUser[key], cl)
		if len(h.byUser[key]) == 0 {
			delete(h.byUser, key)
		}
		clientsConnected.Dec()
	}
	h.mu.Unlock()
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h.mu.RLock()
	cn, ok := h.conns[cl]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	c := cn.claims
	// The hot case, a delivery to the user's own topic, without parsing.
	if own := cn.key; !write && !c.IsService() && len(topic) > len(own)+1 &&
		strings.HasPrefix(topic, own) && topic[len(own)] == '/' && !strings.ContainsAny(topic[len(own):], "+#") {
		return true
	}
	prefix := ""
	if a := h.apps[c.App]; a != nil {
		prefix = a.TopicPrefix
	}
	if !Allowed(c, prefix, h.prefixes, topic, write) {
		aclDenied.Inc()
		h.Log.Warn("security: mqtt topic refused", "user", c.User(), "app", c.App, "topic", topic, "write", write)
		return false
	}
	return true
}

func (h *authHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	deliveriesDropped.Inc()
	h.Log.Error("delivery dropped: client queue full", "client", cl.ID, "topic", pk.TopicName)
}

// OnQosDropped is called when a clean session ends with messages unacknowledged:
// MQTT discards them with the session, by the client's choice.
func (h *authHook) OnQosDropped(*mqtt.Client, packets.Packet) { cleanDiscards.Inc() }
