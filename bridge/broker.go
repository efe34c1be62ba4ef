package bridge

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

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
)

// Broker is the embedded MQTT broker.
type Broker struct {
	srv      *mqtt.Server
	tcp      *listeners.TCP
	wsAddr   string
	authHook *authHook
}

// BrokerOptions configure the embedded broker.
type BrokerOptions struct {
	TCPAddr   string
	WSAddr    string // empty disables WebSocket
	Secret    []byte
	Apps      config.Apps
	Log       *slog.Logger
	MaxQueued int32 // per-client write queue; 0 = 8192
}

// StartBroker starts the embedded broker with JWT authentication and the topic ACL.
func StartBroker(o BrokerOptions) (*Broker, error) {
	if o.MaxQueued == 0 {
		o.MaxQueued = 8192
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
	h := &authHook{secret: o.Secret, apps: o.Apps, claims: map[*mqtt.Client]*auth.Claims{}}
	for _, a := range o.Apps {
		h.prefixes = append(h.prefixes, a.TopicPrefix)
	}
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	b := &Broker{srv: srv, authHook: h, wsAddr: o.WSAddr}
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

// Clients is the number of connected clients.
func (b *Broker) Clients() int64 { return b.authHook.connected.Load() }

// Close disconnects every client and stops the listeners.
func (b *Broker) Close() error { return b.srv.Close() }

// Publish hands a message to the broker's subscribers in-process. Messages the
// broker had to drop for a full client queue are counted in
// chat_mqtt_deliveries_dropped_total.
func (b *Broker) Publish(topic string, payload []byte) error {
	return b.srv.Publish(topic, payload, false, 1)
}

// authHook checks the JWT at CONNECT and the topic ACL on every publish and
// subscription.
type authHook struct {
	mqtt.HookBase
	secret    []byte
	apps      config.Apps
	prefixes  []string
	mu        sync.RWMutex
	claims    map[*mqtt.Client]*auth.Claims
	connected atomic.Int64
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
	h.claims[cl] = c
	h.mu.Unlock()
	h.connected.Add(1)
	return true
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	if _, ok := h.claims[cl]; ok {
		delete(h.claims, cl)
		h.connected.Add(-1)
	}
	h.mu.Unlock()
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h.mu.RLock()
	c := h.claims[cl]
	h.mu.RUnlock()
	if c == nil {
		return false
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

func (h *authHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	deliveriesDropped.Inc()
	h.Log.Error("delivery dropped: inflight expired", "client", cl.ID, "topic", pk.TopicName)
}
