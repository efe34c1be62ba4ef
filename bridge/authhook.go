package bridge

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/ratelimit"
)

// authHook checks the JWT and the will at CONNECT, the topic ACL on every
// publish and subscription, and keeps the sessions the broker holds.
//
// A session belongs to one user: the broker's client id is rewritten at
// CONNECT to "{app}/{user}/{client id}" (see sessionID), before the broker
// looks for a session to inherit, so the same client id used by another
// user or in another application names another session and can never take
// this one over.
type authHook struct {
	mqtt.HookBase
	srv      *mqtt.Server
	secret   []byte
	apps     config.Apps
	prefixes []string
	// authFailures counts failed authentications by client address; an
	// address past its rate is refused before its token is looked at.
	authFailures *ratelimit.Limiter
	// revoked reports users whose tokens no longer work (revoke.go).
	revoked func(app, user string) bool
	// order stamps every delivery with its position, so that a session's
	// queue can be replayed in publish order on reconnection.
	order atomic.Int64
	// alerts tell users of connections in their name (security.go).
	alerts *securityAlerts

	mu sync.RWMutex
	// pending holds a client between its CONNECT checks and its
	// authentication, the next hook the broker calls for it.
	pending map[*mqtt.Client]*session
	// sessions are the sessions the broker holds, connected or waiting
	// for their client, by session id; byUser indexes them by user key.
	sessions map[string]*session
	byUser   map[string]map[string]struct{}
}

// session is one authenticated client and what it may do.
type session struct {
	cl     *mqtt.Client
	claims *auth.Claims
	key    string // "{prefix}/user/{user}": its own topics start with this and a slash
}

func newAuthHook(srv *mqtt.Server, secret []byte, apps config.Apps) *authHook {
	h := &authHook{srv: srv, secret: secret, apps: apps,
		pending: map[*mqtt.Client]*session{}, sessions: map[string]*session{},
		byUser: map[string]map[string]struct{}{}}
	for _, a := range apps {
		h.prefixes = append(h.prefixes, a.TopicPrefix)
	}
	return h
}

// sessionID is the broker's id of a client's session. Application and user
// ids never contain a slash, so the id names its owner unambiguously.
func sessionID(app, user, clientID string) string { return app + "/" + user + "/" + clientID }

func (h *authHook) ID() string { return "chat-auth" }

// Provides is asked for every hook at every event of every packet: a
// switch, not a search.
func (h *authHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnPacketEncode,
		mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnPublishDropped, mqtt.OnQosDropped:
		return true
	}
	return false
}

// OnConnect verifies the token and the will. A bad token is refused by
// OnConnectAuthenticate ("bad username or password"); a will the client
// may not publish is refused here with "not authorized".
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	user := string(pk.Connect.Username)
	addr := ratelimit.AddrKey(cl.Net.Remote)
	if blocked, _ := h.authFailures.Blocked(addr); blocked {
		h.refused(cl, user, "too many failed authentications from this address")
		code := packets.ErrConnectionRateExceeded
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.Err3ServerUnavailable
		}
		_ = h.srv.SendConnack(cl, code, false, nil)
		return code
	}
	c, err := auth.Verify(h.secret, string(pk.Connect.Password))
	if err != nil || c.User() != user || h.apps[c.App] == nil || h.isRevoked(c) {
		h.authFailures.Charge(addr)
		reason := "unknown application"
		switch {
		case err != nil:
			reason = err.Error()
		case c.User() != user:
			reason = "token subject differs from username"
		case h.apps[c.App] != nil:
			reason = "token revoked: the visitor became a known client"
		}
		h.refused(cl, user, reason)
		h.alerts.refused(user, string(pk.Connect.Password), cl.Net.Remote, reason)
		return nil
	}
	prefix := h.apps[c.App].TopicPrefix
	if reason := willRefusal(pk.Connect, prefix, c); reason != "" {
		h.refused(cl, user, reason)
		code := packets.ErrNotAuthorized
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.Err3NotAuthorized
		}
		_ = h.srv.SendConnack(cl, code, false, nil)
		return code
	}
	cl.ID = sessionID(c.App, c.User(), cl.ID)
	h.mu.Lock()
	h.pending[cl] = &session{cl: cl, claims: c, key: prefix + "/" + levelUser + "/" + c.User()}
	h.mu.Unlock()
	return nil
}

// willRefusal says why a CONNECT's will may not be set, or "". A will is a
// publish made on the client's behalf: the only one a client may leave is
// its own presence command, never retained.
func willRefusal(c packets.ConnectParams, prefix string, claims *auth.Claims) string {
	switch {
	case !c.WillFlag:
		return ""
	case claims.IsService():
		return "will set by a service account"
	case c.WillRetain:
		return "retained will"
	case c.WillTopic != prefix+"/"+levelCmd+"/"+claims.User()+"/presence":
		return "will on a topic other than the client's own presence command: " + c.WillTopic
	}
	return ""
}

func (h *authHook) refused(cl *mqtt.Client, user, reason string) {
	connectRefused.Inc()
	h.Log.Warn("security: mqtt connect refused", "username", user, "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.pending[cl]
	if !ok {
		return false // refused and logged by OnConnect
	}
	delete(h.pending, cl)
	// A session of the same id is this user's own: the new connection
	// takes it over (the broker disconnects the old one).
	h.sessions[cl.ID] = s
	if h.byUser[s.key] == nil {
		h.byUser[s.key] = map[string]struct{}{}
	}
	h.byUser[s.key][cl.ID] = struct{}{}
	clientsConnected.Inc()
	if !s.claims.IsService() {
		_, clientID, _ := strings.Cut(strings.TrimPrefix(cl.ID, s.claims.App+"/"), "/")
		h.alerts.connectedFrom(s.claims.App, s.claims.User(), clientID)
	}
	return true
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	clientsConnected.Dec()
	if expire { // a clean session ends with its connection
		h.forget(cl)
	}
}

// OnClientExpired is called when the broker drops a session whose client
// stayed away past its session expiry.
func (h *authHook) OnClientExpired(cl *mqtt.Client) { h.forget(cl) }

// forget drops cl's session unless a newer connection holds it now.
func (h *authHook) forget(cl *mqtt.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forgetLocked(cl)
}

func (h *authHook) forgetLocked(cl *mqtt.Client) {
	s, ok := h.sessions[cl.ID]
	if !ok || s.cl != cl {
		return
	}
	delete(h.sessions, cl.ID)
	delete(h.byUser[s.key], cl.ID)
	if len(h.byUser[s.key]) == 0 {
		delete(h.byUser, s.key)
	}
}

// endSession drops an offline session whose queue passed its limit: its
// client reconnects with no session present and catches up over REST,
// instead of finding a session that silently misses deliveries. It gives up
// if a new connection already holds the session: authentication registers
// it under the same lock before the broker hands the session over, so a
// session is either ended whole before the handover or handed over whole.
func (h *authHook) endSession(cl *mqtt.Client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.sessions[cl.ID]; !ok || s.cl != cl || !cl.Closed() {
		return false
	}
	h.forgetLocked(cl)
	h.srv.UnsubscribeClient(cl)
	cl.ClearInflights()
	if cur, ok := h.srv.Clients.Get(cl.ID); ok && cur == cl {
		h.srv.Clients.Delete(cl.ID)
	}
	return true
}

// needsAttention reports whether a session of key holds room or more
// messages while connected, or limit or more while away.
func (h *authHook) needsAttention(key string, room, limit int) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for id := range h.byUser[key] {
		cl := h.sessions[id].cl
		n := cl.State.Inflight.Len()
		if closed := cl.Closed(); closed && n >= limit || !closed && n >= room {
			return true
		}
	}
	return false
}

func (h *authHook) clientsOf(key string) []*mqtt.Client {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*mqtt.Client, 0, len(h.byUser[key]))
	for id := range h.byUser[key] {
		out = append(out, h.sessions[id].cl)
	}
	return out
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	// By session id, not connection: deliveries to a session whose client
	// is away are queued for it, and its id names its user.
	h.mu.RLock()
	s, ok := h.sessions[cl.ID]
	h.mu.RUnlock()
	if !ok {
		return false
	}
	c := s.claims
	// The hot case, a delivery to the user's own topic, without parsing.
	if own := s.key; !write && !c.IsService() && len(topic) > len(own)+1 &&
		strings.HasPrefix(topic, own) && topic[len(own)] == '/' && !strings.ContainsAny(topic[len(own):], "+#") {
		return true
	}
	if !Allowed(c, h.apps[c.App].TopicPrefix, h.prefixes, topic, write) {
		aclDenied.Inc()
		h.Log.Warn("security: mqtt topic refused", "user", c.User(), "app", c.App, "topic", topic, "write", write)
		return false
	}
	return true
}

// OnPublish stamps deliveries with their order and refuses to keep
// retained messages: retain is not available on this broker. MQTT 5
// clients were told so in their CONNACK, and a retained publish is a
// protocol error that ends the connection ("retain not supported"); MQTT
// 3.1.1 has no way to say it, so the flag is ignored and the publish
// handled as any other.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		pk.Created = h.order.Add(1)
		return pk, nil
	}
	if !pk.FixedHeader.Retain {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion >= 5 {
		h.Log.Warn("retained publish refused: retain is not available", "client", cl.ID, "topic", pk.TopicName)
		_ = h.srv.DisconnectClient(cl, packets.ErrRetainNotSupported)
		h.alerts.ended(cl.ID, "retained publish: retain is not available")
		return pk, packets.ErrRejectPacket
	}
	pk.FixedHeader.Retain = false
	return pk, nil
}

// OnPacketEncode adjusts CONNACKs: MQTT 5 clients learn that retain is not
// available; a retained will (refused by the broker before any hook) is
// counted and logged, and told "not authorized" in MQTT 3.1.1, which has no
// code for it; and an inherited session's queue is put in publish order.
func (h *authHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack {
		return pk
	}
	if cl.Properties.ProtocolVersion >= 5 {
		pk.Properties.RetainAvailable, pk.Properties.RetainAvailableFlag = 0, true
	}
	if pk.ReasonCode == packets.ErrRetainNotSupported.Code {
		h.refused(cl, string(cl.Properties.Username), "retained will")
		if cl.Properties.ProtocolVersion < 5 {
			pk.ReasonCode = packets.Err3NotAuthorized.Code
		}
	}
	if pk.SessionPresent {
		orderQueue(cl)
	}
	return pk
}

// orderQueue renumbers a session's queued messages 1…n in the order they
// were published: the broker resends a session's queue on reconnection
// sorted by the low 16 bits of each message's creation stamp, which only
// such a renumbering makes the publish order.
func orderQueue(cl *mqtt.Client) {
	queued := cl.State.Inflight.GetAll(false)
	slices.SortStableFunc(queued, func(a, b packets.Packet) int { return cmp.Compare(a.Created, b.Created) })
	for i, pk := range queued {
		pk.Created = int64(i + 1)
		cl.State.Inflight.Set(pk)
	}
}

// OnPublishDropped is called when a client's write queue is full. Fan-out
// waits for room before each QoS 1 delivery, so none should be; a live
// signal (QoS 0, at most once) for a client that stopped reading may be,
// and is counted with the other live signals dropped.
func (h *authHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	if pk.FixedHeader.Qos == 0 {
		liveDropped.WithLabelValues("client_queue").Inc()
		h.Log.Debug("live delivery dropped: client queue full", "client", cl.ID, "topic", pk.TopicName)
		return
	}
	deliveriesDropped.Inc()
	h.Log.Error("delivery dropped: client queue full", "client", cl.ID, "topic", pk.TopicName)
}

// OnQosDropped is called when a queued message expires. Deliveries carry
// no expiry, so only what a client's own packets asked for is counted.
func (h *authHook) OnQosDropped(*mqtt.Client, packets.Packet) { cleanDiscards.Inc() }
