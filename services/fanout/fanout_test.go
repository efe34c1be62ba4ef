package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
)

type capture struct{ got []bridge.Delivery }

func (c *capture) Send(d bridge.Delivery)      { c.got = append(c.got, d) }
func (c *capture) Flush(context.Context) error { return nil }

// churn builds a random history: conversations, members joining and
// leaving, messages posted (some twice) and decided (some twice).
func churn(r *rand.Rand, n int) []*events.Envelope {
	var out []*events.Envelope
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(p events.Payload) {
		at = at.Add(time.Second)
		e, _ := events.New(fmt.Sprint("e", len(out)), "geosector", at, events.Actor{ID: "x", Type: events.ActorUser}, p)
		e.Seq = uint64(len(out) + 1)
		out = append(out, e)
	}
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	convs := []string{"c0", "c1"}
	for _, c := range convs {
		add(&events.ConversationCreated{ConversationID: c, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
			CreatedBy: "u0", Members: []events.Member{{UserID: "u0", Role: events.RoleAdmin}}})
	}
	var posted []*events.MessagePosted
	for i := 0; len(out) < n; i++ {
		c, u := convs[r.IntN(2)], users[r.IntN(len(users))]
		switch k := r.IntN(10); {
		case k < 2:
			add(&events.MemberJoined{ConversationID: c, UserID: u, Role: events.RoleMember, AddedBy: "u0"})
		case k < 4:
			add(&events.MemberLeft{ConversationID: c, UserID: u, RemovedBy: "u0"})
		case k < 7 || len(posted) == 0:
			m := &events.MessagePosted{MessageID: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint("k", i), ConversationID: c,
				SenderID: u, SenderType: events.ActorUser, Content: fmt.Sprint("body-", i), ContentType: events.ContentText}
			posted = append(posted, m)
			add(m)
			if r.IntN(6) == 0 {
				add(m)
			}
		default:
			m := posted[r.IntN(len(posted))]
			add(&events.MessageModerated{MessageID: m.MessageID, ConversationID: m.ConversationID, SenderID: m.SenderID,
				ClientMsgID: m.ClientMsgID, Status: events.StatusApproved})
		}
	}
	return out
}

// TestDeliveriesFollowMembershipAtEachPosition checks the zero-leak
// invariant over random membership churn: a message reaches exactly the
// members of its conversation at the position of its (first) approval,
// once each, however the history is cut into batches.
func TestDeliveriesFollowMembershipAtEachPosition(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		evs := churn(r, 400)

		// The model: membership and first approvals, folded independently.
		members := map[string]map[string]bool{"c0": {"u0": true}, "c1": {"u0": true}}
		want := map[string]bool{} // "msg user"
		decided := map[string]bool{}
		postedOnce := map[string]bool{}
		for _, e := range evs {
			p, _ := e.Payload()
			switch p := p.(type) {
			case *events.MemberJoined:
				members[p.ConversationID][p.UserID] = true
			case *events.MemberLeft:
				delete(members[p.ConversationID], p.UserID)
			case *events.MessagePosted:
				postedOnce[p.MessageID] = true
			case *events.MessageModerated:
				if !decided[p.MessageID] && postedOnce[p.MessageID] {
					decided[p.MessageID] = true
					for u := range members[p.ConversationID] {
						want[p.MessageID+" "+u] = true
					}
				}
			}
		}

		out := &capture{}
		s := New(config.Defaults(), out)
		for i := 0; i < len(evs); {
			n := 1 + r.IntN(40)
			if err := s.Handle(context.Background(), evs[i:min(i+n, len(evs))]); err != nil {
				t.Fatal(err)
			}
			i += n
		}
		got := map[string]int{}
		for _, d := range out.got {
			var env struct {
				Type string
				Data struct{ ID string }
			}
			if err := json.Unmarshal(d.Payload, &env); err != nil {
				t.Fatal(err)
			}
			if env.Type != "message.new" {
				continue
			}
			user := strings.Split(d.Topic, "/")[2]
			got[env.Data.ID+" "+user]++
		}
		for k, n := range got {
			if !want[k] {
				t.Fatalf("seed %d: delivery %q to a non-member at that position", seed, k)
			}
			if n != 1 {
				t.Fatalf("seed %d: delivery %q made %d times", seed, k, n)
			}
		}
		for k := range want {
			if got[k] == 0 {
				t.Fatalf("seed %d: member never received %q", seed, k)
			}
		}
	}
}

func TestLargeConversationsTellOnlyTheMemberAndAdminsOfJoins(t *testing.T) {
	out := &capture{}
	a := config.Defaults()
	a["geosector"].Limits.MemberEventsUpTo = 3
	s := New(a, out)
	var evs []*events.Envelope
	add := func(p events.Payload) {
		e, _ := events.New(fmt.Sprint("e", len(evs)), "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser}, p)
		e.Seq = uint64(len(evs) + 1)
		evs = append(evs, e)
	}
	add(&events.ConversationCreated{ConversationID: "c", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "a",
		Members: []events.Member{{UserID: "a", Role: events.RoleAdmin}, {UserID: "b", Role: events.RoleMember}}})
	add(&events.MemberJoined{ConversationID: "c", UserID: "c", Role: events.RoleMember, AddedBy: "a"}) // 3 members: all told
	add(&events.MemberJoined{ConversationID: "c", UserID: "d", Role: events.RoleMember, AddedBy: "a"}) // 4: d and admin a
	if err := s.Handle(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	told := map[string][]string{}
	for _, d := range out.got {
		var env struct {
			Type string
			Data struct{ UserID string }
		}
		_ = json.Unmarshal(d.Payload, &env)
		if env.Type == "member.joined" {
			told[env.Data.UserID] = append(told[env.Data.UserID], strings.Split(d.Topic, "/")[2])
		}
	}
	if len(told["c"]) != 3 {
		t.Fatalf("join of c told %v, want all 3 members", told["c"])
	}
	if len(told["d"]) != 2 || !(contains(told["d"], "a") && contains(told["d"], "d")) {
		t.Fatalf("join of d told %v, want d and the admin a", told["d"])
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestReceiptsGoToMembersOrInLargeConversationsToTheSendersCovered(t *testing.T) {
	out := &capture{}
	a := config.Defaults()
	a["geosector"].Limits.ReceiptsToAllUpTo = 3
	s := New(a, out)
	var evs []*events.Envelope
	add := func(p events.Payload) {
		e, _ := events.New(fmt.Sprint("e", len(evs)), "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser}, p)
		e.Seq = uint64(len(evs) + 1)
		evs = append(evs, e)
	}
	read := func(user string, senders ...string) {
		add(&events.ReadReceipt{Receipt: events.Receipt{ConversationID: "c", UserID: user, MessageID: "m", MessageSeq: 1, Senders: senders}})
	}
	add(&events.ConversationCreated{ConversationID: "c", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "a",
		Members: []events.Member{{UserID: "a", Role: events.RoleAdmin}, {UserID: "b", Role: events.RoleMember}, {UserID: "c", Role: events.RoleMember}}})
	read("b", "a") // 3 members: all told
	add(&events.MemberJoined{ConversationID: "c", UserID: "d", Role: events.RoleMember, AddedBy: "a"})
	add(&events.MemberJoined{ConversationID: "c", UserID: "e", Role: events.RoleMember, AddedBy: "a"})
	add(&events.MemberLeft{ConversationID: "c", UserID: "e", RemovedBy: "e"})
	read("c", "a", "e") // 4 members: the reader and a; e has left
	if err := s.Handle(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	told := map[string][]string{}
	for _, d := range out.got {
		var env struct {
			Type string
			Data struct{ UserID string }
		}
		_ = json.Unmarshal(d.Payload, &env)
		if env.Type == "read.receipt" {
			if !strings.HasSuffix(d.Topic, "/receipts") {
				t.Fatalf("read.receipt on %s", d.Topic)
			}
			told[env.Data.UserID] = append(told[env.Data.UserID], strings.Split(d.Topic, "/")[2])
		}
	}
	if len(told["b"]) != 3 {
		t.Fatalf("b's receipt told %v, want all 3 members", told["b"])
	}
	if len(told["c"]) != 2 || !(contains(told["c"], "a") && contains(told["c"], "c")) {
		t.Fatalf("c's receipt told %v, want c and the sender a", told["c"])
	}
}
