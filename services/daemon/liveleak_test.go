package daemon_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// liveModel is who may hear typing and presence, as the relay decides it
// today (services/live): a focus is kept when its author is a member then,
// and lasts until unfocused (or the connection ends); a signal reaches those
// whose focus is kept and who are members when it is routed.
type liveModel struct {
	members map[string]map[string]bool // conversation → members
	team    map[string]bool            // the members of a group (team)
	focus   map[string]map[string]bool // conversation → users focusing it
	want    map[string]int             // "type from conversation|status to" → deliveries
	refused map[string]int             // user → command.rejected
	// stale counts signals routed while a focus outlived its author's
	// membership, the case a leak would show in; staleTyping those of
	// typing.
	stale, staleTyping int
}

func (m *liveModel) typing(from, conv string, on bool) {
	if !m.members[conv][from] {
		m.refused[from]++
		return
	}
	typ := "typing.stop"
	if on {
		typ = "typing.start"
	}
	for u := range m.focus[conv] {
		if u != from && m.members[conv][u] {
			m.want[fmt.Sprint(typ, " ", from, " ", conv, " ", u)]++
		} else if u != from {
			m.stale++
			m.staleTyping++
		}
	}
}

// presence reaches the members focusing a conversation the user is a
// member of, and the members of the user's group, each once.
func (m *liveModel) presence(from, status string) {
	to := map[string]bool{}
	for conv, users := range m.focus {
		if !m.members[conv][from] {
			continue
		}
		for u := range users {
			if u != from && m.members[conv][u] {
				to[u] = true
			} else if u != from {
				m.stale++
			}
		}
	}
	if m.team[from] {
		for u := range m.team {
			if u != from {
				to[u] = true
			}
		}
	}
	for u := range to {
		m.want[fmt.Sprint("presence.update ", from, " ", status, " ", u)]++
	}
}

// Over random focus, unfocus, typing, presence, joins and leaves (of
// conversations and of a group), typing reaches only the members focusing
// the conversation and presence only the members focusing a conversation
// shared with the user and the members of a group shared with them, exactly
// as often as the model says, a non-member never; and live traffic stores
// nothing.
func TestLiveSignalsReachOnlyCurrentMembersWhoFocus(t *testing.T) {
	c := daemontest.Chatd(t, daemontest.Unlimited)
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	clients := map[string]*testkit.Client{}
	for _, u := range users {
		clients[u] = connect(t, c, u)
	}
	alice := c.Token("geosector", "alice", "member")
	convs := []string{group(t, c, "alice", "bob", "carol"), group(t, c, "alice", "dave")}
	fence := group(t, c, "zed", "yan")
	team := team(t, c, "alice", "bob", "erin")
	m := &liveModel{team: map[string]bool{"alice": true, "bob": true, "erin": true}, members: map[string]map[string]bool{
		convs[0]: {"alice": true, "bob": true, "carol": true},
		convs[1]: {"alice": true, "dave": true},
	}, focus: map[string]map[string]bool{convs[0]: {}, convs[1]: {}}, want: map[string]int{}, refused: map[string]int{}}
	fanoutPassed(t, c, c.LastSeq())
	start, changes := c.LastSeq(), uint64(0)

	r := rand.New(rand.NewPCG(8, 1))
	typed := map[string]int{} // typing is rate limited per connection and conversation: a burst of 4
	for range 160 {
		u, conv := users[r.IntN(len(users))], convs[r.IntN(len(convs))]
		cl := clients[u]
		switch k := r.IntN(10); {
		case k < 2 && u != "alice": // alice, the admin, stays
			// The relay must have routed every signal sent before the
			// change, and fan-out, whose membership it reads, folded the
			// change before any signal after it.
			liveBarrier(t, cl, fence)
			path := "/api/chat/conversations/" + conv + "/participants"
			var status int
			var body []byte
			switch {
			case r.IntN(3) == 0 && m.team[u]:
				status, body = c.Do("DELETE", "/api/chat/groups/"+team+"/members/"+u, alice, nil)
				delete(m.team, u)
			case r.IntN(3) == 0 && !m.team[u]:
				status, body = c.Do("POST", "/api/chat/groups/"+team+"/members", alice, map[string]string{"userId": u})
				m.team[u] = true
			case m.members[conv][u]:
				status, body = c.Do("DELETE", path+"/"+u, alice, nil)
				delete(m.members[conv], u)
			default:
				status, body = c.Do("POST", path, alice, map[string]string{"userId": u})
				m.members[conv][u] = true
			}
			if status != http.StatusOK && status != http.StatusNoContent {
				t.Fatalf("membership change of %s in %s: %d %s", u, conv, status, body)
			}
			changes++
			fanoutPassed(t, c, c.LastSeq())
		case k < 5:
			focus(cl, conv)
			if m.members[conv][u] {
				m.focus[conv][u] = true
			} else {
				m.refused[u]++
			}
		case k < 6:
			cl.Publish("chat/cmd/"+u+"/unfocus", map[string]string{"conversationId": conv})
			delete(m.focus[conv], u)
		case k < 9 && typed[u+conv] < 4:
			typed[u+conv]++
			on := r.IntN(2) == 0
			typing(cl, conv, on)
			m.typing(u, conv, on)
		default:
			status := []string{"online", "away"}[r.IntN(2)]
			presence(cl, status)
			m.presence(u, status)
		}
	}
	for _, u := range users {
		liveBarrier(t, clients[u], fence)
	}

	got := map[string]int{}
	for _, u := range users {
		for _, rcv := range clients[u].Received() {
			d := testkit.JSON[struct{ ConversationID, UserID, Status string }](t, rcv.Data)
			switch rcv.Type {
			case "typing.start", "typing.stop":
				got[fmt.Sprint(rcv.Type, " ", d.UserID, " ", d.ConversationID, " ", u)]++
			case "presence.update":
				got[fmt.Sprint(rcv.Type, " ", d.UserID, " ", d.Status, " ", u)]++
			}
		}
		if n := rejections(t, clients[u], "", convs[0]) + rejections(t, clients[u], "", convs[1]); n != m.refused[u] {
			t.Errorf("%s's live commands were rejected %d times, want %d", u, n, m.refused[u])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if got[k] != m.want[k] {
			t.Errorf("%q delivered %d times, want %d", k, got[k], m.want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.want)) {
		if got[k] == 0 {
			t.Errorf("%q never delivered (want %d)", k, m.want[k])
		}
	}
	if len(m.want) < 20 || m.staleTyping == 0 || m.stale == m.staleTyping || len(m.refused) == 0 {
		t.Fatalf("the sequence exercised only %d deliveries, %d typing and %d presence signals past a stale focus, %d users refused",
			len(m.want), m.staleTyping, m.stale-m.staleTyping, len(m.refused))
	}
	if got := c.LastSeq(); got != start+changes {
		t.Fatalf("log grew by %d events, want %d (the membership changes): live signals were stored", got-start, changes)
	}
}
