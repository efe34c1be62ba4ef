// Package live routes the signals that are never stored (DESIGN invariant
// 7): typing, focus and presence. The bridge publishes them on core NATS
// (chat.live.>, see bridge/live.go); the relay keeps who focuses which
// conversation on which connection and delivers each signal, at MQTT QoS 0,
// to the members it concerns. Membership is fan-out's, folded from the log
// (DESIGN invariant 4), read under fan-out's lock: never the read model.
//
// Who receives what:
//   - typing.start / typing.stop: the members focusing the conversation,
//     not the typist. A non-member's typing goes nowhere and is answered
//     command.rejected not_member; so is a non-member's focus, which is not
//     kept. A conversation the log has not created (yet) drops the signal.
//   - presence.update: the users focusing a conversation the user is a
//     member of, while they are members too, and the members of the user's
//     groups (teams), at most GroupPresenceUpTo of them per signal.
//
// Focus is per connection and ends with it (bridge's "gone" signal).
package live

import (
	"log/slog"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/roster"
)

// Membership is where the relay reads membership: fan-out's roster, under
// its lock (fanout.Service.View).
type Membership interface {
	View(fn func(*roster.Roster))
}

// Deliver hands one delivery to the broker at QoS 0.
type Deliver func(bridge.Delivery)

var (
	signalsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chat_live_signals_total",
		Help: "Live signals routed by the relay, by kind and result (delivered, unknown, bad, or the refusal code: not_member, reply_not_allowed, closed).",
	}, []string{"kind", "result"})
	liveDeliveries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chat_live_deliveries_total",
		Help: "Typing and presence deliveries handed to the broker at QoS 0.",
	})
)

// Relay is the live router. Handle is called from one goroutine (a NATS
// subscription's), so its focus state needs no lock.
type Relay struct {
	members Membership
	deliver Deliver
	log     *slog.Logger

	// byConv: app/conversation → user → connections focusing it.
	byConv map[convKey]map[string]map[string]struct{}
	// byConn: a connection → the conversations it focuses.
	byConn map[connKey]map[string]struct{}
	// byApp: app → conversations someone focuses, for presence.
	byApp map[string]map[string]struct{}
}

type convKey struct{ app, conv string }

type connKey struct{ app, user, conn string }

// New returns a relay reading membership from m and delivering with d.
func New(m Membership, d Deliver, log *slog.Logger) *Relay {
	return &Relay{members: m, deliver: d, log: log,
		byConv: map[convKey]map[string]map[string]struct{}{},
		byConn: map[connKey]map[string]struct{}{},
		byApp:  map[string]map[string]struct{}{}}
}

// Handle routes one chat.live message body.
func (r *Relay) Handle(body []byte) {
	var s bridge.LiveSignal
	if err := fastjson.Unmarshal(body, &s); err != nil || s.App == "" || s.User == "" || s.Prefix == "" {
		signalsTotal.WithLabelValues("unknown", "bad").Inc()
		return
	}
	switch s.Kind {
	case bridge.SignalTyping:
		r.typing(&s)
	case bridge.SignalFocus:
		r.focus(&s)
	case bridge.SignalUnfocus:
		r.unfocus(connKey{s.App, s.User, s.Conn}, s.ConversationID)
		signalsTotal.WithLabelValues(s.Kind, "delivered").Inc()
	case bridge.SignalGone:
		r.gone(connKey{s.App, s.User, s.Conn})
		signalsTotal.WithLabelValues(s.Kind, "delivered").Inc()
	case bridge.SignalPresence:
		r.presence(&s)
	default:
		signalsTotal.WithLabelValues("unknown", "bad").Inc()
	}
}

// admit reports whether s's sender may do a in its conversation (the
// permission matrix, roster.Allowed: focus is reading, typing follows
// posting). A conversation the log has not created drops the signal; a
// refusal is answered with its code.
func (r *Relay) admit(s *bridge.LiveSignal, a roster.Action) bool {
	var known, ok bool
	var code string
	r.members.View(func(ro *roster.Roster) {
		if c := ro.Get(s.App, s.ConversationID); c != nil {
			known = true
			ok, code = c.Can(s.User, a)
		}
	})
	switch {
	case !known:
		signalsTotal.WithLabelValues(s.Kind, "unknown").Inc()
	case !ok:
		r.refuse(s, code)
	}
	return ok
}

func (r *Relay) typing(s *bridge.LiveSignal) {
	if !r.admit(s, roster.Type) {
		return
	}
	var to []string
	r.members.View(func(ro *roster.Roster) {
		c := ro.Get(s.App, s.ConversationID)
		for u := range r.byConv[convKey{s.App, s.ConversationID}] {
			if u != s.User && c.IsMember(u) {
				to = append(to, u)
			}
		}
	})
	typ := "typing.stop"
	if s.Typing {
		typ = "typing.start"
	}
	r.send(s, to, bridge.KindTyping, typ, typingData{ConversationID: s.ConversationID, UserID: s.User})
}

type typingData struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
}

type presenceData struct {
	UserID string    `json:"userId"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

func (r *Relay) focus(s *bridge.LiveSignal) {
	if !r.admit(s, roster.Read) {
		return
	}
	ck, k := connKey{s.App, s.User, s.Conn}, convKey{s.App, s.ConversationID}
	if r.byConn[ck] == nil {
		r.byConn[ck] = map[string]struct{}{}
	}
	r.byConn[ck][s.ConversationID] = struct{}{}
	if r.byConv[k] == nil {
		r.byConv[k] = map[string]map[string]struct{}{}
	}
	if r.byConv[k][s.User] == nil {
		r.byConv[k][s.User] = map[string]struct{}{}
	}
	r.byConv[k][s.User][s.Conn] = struct{}{}
	if r.byApp[s.App] == nil {
		r.byApp[s.App] = map[string]struct{}{}
	}
	r.byApp[s.App][s.ConversationID] = struct{}{}
	signalsTotal.WithLabelValues(s.Kind, "delivered").Inc()
}

func (r *Relay) unfocus(ck connKey, conv string) {
	convs := r.byConn[ck]
	if _, ok := convs[conv]; !ok {
		return
	}
	delete(convs, conv)
	if len(convs) == 0 {
		delete(r.byConn, ck)
	}
	k := convKey{ck.app, conv}
	users := r.byConv[k]
	delete(users[ck.user], ck.conn)
	if len(users[ck.user]) == 0 {
		delete(users, ck.user)
	}
	if len(users) == 0 {
		delete(r.byConv, k)
		delete(r.byApp[ck.app], conv)
		if len(r.byApp[ck.app]) == 0 {
			delete(r.byApp, ck.app)
		}
	}
}

// gone unfocuses everything a connection focused.
func (r *Relay) gone(ck connKey) {
	for conv := range r.byConn[ck] {
		r.unfocus(ck, conv)
	}
}

// GroupPresenceUpTo bounds the group members one presence signal reaches,
// so a connect costs at most that many deliveries whatever the user's
// groups: the first members met (groups in no particular order) get it.
const GroupPresenceUpTo = 1000

func (r *Relay) presence(s *bridge.LiveSignal) {
	seen := map[string]bool{s.User: true}
	var to []string
	r.members.View(func(ro *roster.Roster) {
		to = groupMates(ro, s.App, s.User, seen, GroupPresenceUpTo)
		for conv := range r.byApp[s.App] {
			c := ro.Get(s.App, conv)
			if c == nil || !c.IsMember(s.User) {
				continue
			}
			for u := range r.byConv[convKey{s.App, conv}] {
				if !seen[u] && c.IsMember(u) {
					seen[u] = true
					to = append(to, u)
				}
			}
		}
	})
	r.send(s, to, bridge.KindPresence, "presence.update", presenceData{UserID: s.User, Status: s.Status, At: s.At})
	if s.Status == bridge.StatusOffline {
		// Through an external broker focus is per user (no connection id)
		// and ends with the user going offline.
		r.gone(connKey{s.App, s.User, ""})
	}
}

func (r *Relay) send(s *bridge.LiveSignal, to []string, kind, typ string, data any) {
	signalsTotal.WithLabelValues(s.Kind, "delivered").Inc()
	if len(to) == 0 {
		return
	}
	payload := bridge.Encode(bridge.Outbound{Type: typ, At: s.At, Data: data})
	for _, u := range to {
		r.deliver(bridge.Delivery{Topic: bridge.UserTopic(s.Prefix, u, kind), Payload: payload})
	}
	liveDeliveries.Add(float64(len(to)))
}

// refuse answers a typing or focus the permission matrix refuses, with its
// code: not_member, reply_not_allowed or closed.
func (r *Relay) refuse(s *bridge.LiveSignal, code string) {
	signalsTotal.WithLabelValues(s.Kind, code).Inc()
	msg := "not a member of conversation " + s.ConversationID
	if code != events.ReasonNotMember {
		msg = "you may not post, so not type, in conversation " + s.ConversationID
	}
	r.deliver(bridge.NewDelivery(s.Prefix, s.User, bridge.KindErrors, bridge.Outbound{Type: "command.rejected", At: s.At,
		Data: bridge.Rejection{Action: s.Kind, Code: code, Message: msg}}))
}

// groupMates are up to max members of user's groups not yet seen, marked
// seen.
func groupMates(ro *roster.Roster, app, user string, seen map[string]bool, max int) []string {
	var out []string
	for _, id := range ro.GroupsOf(app, user) {
		for u := range ro.Group(app, id).Members {
			if len(out) == max {
				return out
			}
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}
