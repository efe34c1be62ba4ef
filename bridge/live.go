package bridge

import (
	"log/slog"
	"sync"
	"time"

	fastjson "github.com/goccy/go-json"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/ratelimit"
	"github.com/chatbackend/chat/services/strictjson"
)

// Live signals: typing, focus and presence (PROTOCOL §2). They are never
// stored (DESIGN invariant 7): the bridge publishes them on core NATS
// subjects under chat.live, the relay next to fan-out (services/live) routes
// them with the membership it folds from the log, and they reach clients at
// MQTT QoS 0, so a client that is away never finds them queued.
//
//	chat.live.{app}.typing.{conversationId}  typing true/false of a member
//	chat.live.{app}.focus.{userId}           focus, unfocus, and a connection's end
//	chat.live.{app}.presence.{userId}        online, away, offline
//
// Only chatd publishes there: service accounts may not (services/natsauth).
const (
	LiveRoot     = "chat.live"
	LiveWildcard = LiveRoot + ".>"
)

// Kinds of live deliveries (PROTOCOL §2).
const (
	KindTyping   = "typing"
	KindPresence = "presence"
)

// Live signal kinds, as carried on chat.live subjects.
const (
	SignalTyping   = "typing"
	SignalFocus    = "focus"
	SignalUnfocus  = "unfocus"
	SignalGone     = "gone" // a connection ended: everything it focused ends
	SignalPresence = "presence"
)

// LiveSignal is the body of a chat.live message.
type LiveSignal struct {
	Kind string `json:"kind"`
	App  string `json:"app"`
	User string `json:"user"`
	// Conn names the connection that focused: focus ends with it. Empty
	// through an external broker, where connections are not seen; focus
	// then ends with the user's offline presence (their will).
	Conn           string    `json:"conn,omitempty"`
	ConversationID string    `json:"conversationId,omitempty"`
	Typing         bool      `json:"typing,omitempty"`
	Status         string    `json:"status,omitempty"`
	At             time.Time `json:"at"`
	// Prefix is the application's topic prefix, where answers go.
	Prefix string `json:"prefix"`
}

// Subject is where the signal travels.
func (s *LiveSignal) Subject() string {
	switch s.Kind {
	case SignalTyping:
		return LiveRoot + "." + s.App + ".typing." + s.ConversationID
	case SignalPresence:
		return LiveRoot + "." + s.App + ".presence." + s.User
	default:
		return LiveRoot + "." + s.App + ".focus." + s.User
	}
}

// Encode is the signal's NATS body.
func (s *LiveSignal) Encode() []byte {
	b, err := fastjson.Marshal(s)
	if err != nil {
		panic("encode live signal: " + err.Error())
	}
	return b
}

// LivePublisher sends a live signal's body to its subject on core NATS
// (nats.Conn.Publish): at most once, never stored.
type LivePublisher func(subject string, data []byte) error

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

type liveCommand struct {
	ConversationID string `json:"conversationId"`
	Typing         *bool  `json:"typing"`
	Status         string `json:"status"`
}

// parseLive parses typing {"conversationId","typing"}, focus and unfocus
// {"conversationId"} and presence {"status"}.
func parseLive(app, user, action string, payload []byte, now time.Time) (*LiveSignal, *Rejection) {
	var c liveCommand
	if err := strictjson.DecodeIgnoringUnknown(payload, &c); err != nil {
		return nil, reject(action, "", CodeInvalidPayload, "payload: %v", err)
	}
	s := &LiveSignal{Kind: action, App: app, User: user, At: now.UTC()}
	switch action {
	case SignalPresence:
		if c.Status != StatusOnline && c.Status != StatusAway && c.Status != StatusOffline {
			return nil, reject(action, "", CodeInvalidPayload, "status must be online, away or offline")
		}
		s.Status = c.Status
		return s, nil
	case SignalTyping:
		if c.Typing == nil {
			return nil, reject(action, "", CodeInvalidPayload, "typing must be true or false")
		}
		s.Typing = *c.Typing
	}
	if !events.ValidID(c.ConversationID) {
		return nil, reject(action, "", CodeInvalidPayload, "conversationId must match ^[A-Za-z0-9_-]{1,64}$")
	}
	s.ConversationID = c.ConversationID
	return s, nil
}

var liveDropped = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "chat_live_dropped_total",
	Help: "Live signals dropped, by reason (typing_rate: past a connection's typing rate for one conversation; publish: NATS refused it; client_queue: the embedded broker's queue for a client was full).",
}, []string{"reason"})

// typingRate bounds one connection's typing signals in one conversation: a
// client repeats typing:true every few seconds, so a few a second is
// already generous. Extra signals are dropped and counted.
var typingRate = ratelimit.Rate{PerSecond: 2, Burst: 4}

// liveOut publishes live signals, bounding typing floods.
type liveOut struct {
	pub    LivePublisher
	typing *ratelimit.Limiter
	log    *slog.Logger
}

func newLiveOut(pub LivePublisher, log *slog.Logger) *liveOut {
	if pub == nil {
		return nil
	}
	return &liveOut{pub: pub, typing: ratelimit.New(typingRate, nil), log: log}
}

// send publishes s from connection conn.
func (o *liveOut) send(s *LiveSignal, conn string) {
	s.Conn = conn
	if s.Kind == SignalTyping {
		if ok, _ := o.typing.Allow(conn + "\x00" + s.App + "\x00" + s.User + "\x00" + s.ConversationID); !ok {
			liveDropped.WithLabelValues("typing_rate").Inc()
			return
		}
	}
	if err := o.pub(s.Subject(), s.Encode()); err != nil {
		liveDropped.WithLabelValues("publish").Inc()
		o.log.Debug("live signal not published", "kind", s.Kind, "err", err)
	}
}

// liveHook turns the embedded broker's connections into live signals: a
// user's first connection makes them online, their last one's end offline,
// and each connection's end unfocuses what it focused. A client's will
// (its own presence command) is published by the broker straight to
// subscribers, past every publish hook, so a crashed client goes offline
// here, through the disconnect, rather than through its will.
type liveHook struct {
	mqtt.HookBase
	auth *authHook
	out  *liveOut

	mu    sync.Mutex
	conns map[*mqtt.Client]*LiveSignal // the connection's app, user and id
	users map[string]int               // connections by app and user
}

func (h *liveHook) ID() string { return "chat-live" }

func (h *liveHook) Provides(b byte) bool {
	return b == mqtt.OnSessionEstablished || b == mqtt.OnDisconnect
}

// connID names one connection: its session and remote address, so a
// connection taking a session over is another connection.
func connID(cl *mqtt.Client) string { return cl.ID + "@" + cl.Net.Remote }

func (h *liveHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.auth.mu.RLock()
	s := h.auth.sessions[cl.ID]
	h.auth.mu.RUnlock()
	if s == nil || s.cl != cl || s.claims.IsService() {
		return
	}
	who := &LiveSignal{App: s.claims.App, User: s.claims.User(), Prefix: h.auth.apps[s.claims.App].TopicPrefix}
	key := who.App + "/" + who.User
	h.mu.Lock()
	h.conns[cl] = who
	h.users[key]++
	first := h.users[key] == 1
	h.mu.Unlock()
	if first {
		h.out.send(&LiveSignal{Kind: SignalPresence, App: who.App, User: who.User, Prefix: who.Prefix,
			Status: StatusOnline, At: time.Now().UTC()}, connID(cl))
	}
}

func (h *liveHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	who := h.conns[cl]
	var last bool
	if who != nil {
		delete(h.conns, cl)
		key := who.App + "/" + who.User
		h.users[key]--
		if last = h.users[key] == 0; last {
			delete(h.users, key)
		}
	}
	h.mu.Unlock()
	if who == nil {
		return
	}
	now := time.Now().UTC()
	h.out.send(&LiveSignal{Kind: SignalGone, App: who.App, User: who.User, Prefix: who.Prefix, At: now}, connID(cl))
	if last {
		h.out.send(&LiveSignal{Kind: SignalPresence, App: who.App, User: who.User, Prefix: who.Prefix,
			Status: StatusOffline, At: now}, connID(cl))
	}
}

// isLive reports whether action is one of the live signals.
func isLive(action string) bool {
	switch action {
	case SignalTyping, SignalFocus, SignalUnfocus, SignalPresence:
		return true
	}
	return false
}
