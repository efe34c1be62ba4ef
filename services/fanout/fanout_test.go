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
	"github.com/chatbackend/chat/services/testkit"
)

type capture struct{ got []bridge.Delivery }

func (c *capture) Send(d bridge.Delivery)      { c.got = append(c.got, d) }
func (c *capture) Flush(context.Context) error { return nil }

// churn builds a random history of every event type fan-out delivers:
// conversations created, members joining (some as admins, some changing
// role) and leaving, announcement parts adding recipients (some members
// already), messages posted (some twice) and decided (some twice,
// some rejected), approved messages edited and deleted, read and delivery
// receipts. Who acts is random: fan-out routes by membership at each
// position whatever the command side decided.
func churn(t *testing.T, r *rand.Rand, n int) []*events.Envelope {
	var out []*events.Envelope
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(p events.Payload) {
		at = at.Add(time.Second)
		e, err := events.New(fmt.Sprint("e", len(out)), "geosector", at, events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatalf("event %T: %v", p, err)
		}
		e.Seq = uint64(len(out) + 1)
		out = append(out, e)
	}
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"}
	some := func(k int) []events.Member {
		ms := []events.Member{{UserID: "u0", Role: events.RoleAdmin}}
		for _, u := range users[1:] {
			if r.IntN(k) == 0 {
				ms = append(ms, events.Member{UserID: u, Role: events.RoleMember})
			}
		}
		return ms
	}
	// v3 is a visitor's: anon-v3 with u0 as its professional, converted
	// into the client client-v3 at some point, transferred now and then.
	convs := []string{"c0", "c1", "c2", "v3"}
	converted := false
	add(&events.ConversationCreated{ConversationID: "c0", Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
		CreatedBy: "u0", Members: some(3)})
	var posted, approved []*events.MessagePosted
	created := 1
	room := &testkit.RoomChurn{}
	for i := 0; len(out) < n; i++ {
		c, u := convs[r.IntN(created)], users[r.IntN(len(users))]
		if r.IntN(4) == 0 { // groups and the user room (groups_test.go)
			room.Step(r, add, u, c)
			continue
		}
		switch k := r.IntN(21); {
		case k == 0 && created == 3:
			add(&events.ConversationCreated{ConversationID: "v3", Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
				CreatedBy: "anon-v3", Members: []events.Member{{UserID: "anon-v3", Role: events.RoleMember}, {UserID: "u0", Role: events.RoleAdmin}}})
			created++
		case k == 0 && created < len(convs):
			add(&events.ConversationCreated{ConversationID: convs[created], Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
				CreatedBy: "u0", Members: some(2)})
			created++
		case k == 19 && created > 3 && !converted && r.IntN(2) == 0:
			add(&events.AnonymousConverted{ConversationID: "v3", AnonymousID: "anon-v3", UserID: "client-v3", ConvertedBy: "u0"})
			converted = r.IntN(3) > 0 // sometimes a repeat follows
		case k == 19 && created > 3 && r.IntN(2) == 0:
			add(&events.ConversationTransferred{ConversationID: "v3", FromUserIDs: []string{"u0"}, ToUserID: u, TransferredBy: "u0"})
		case k == 20:
			// An admin's change: of the conversation (closed now and then),
			// or of a participant, who may not be a member at this position.
			if r.IntN(2) == 0 {
				add(&events.ConversationUpdated{ConversationID: c, Kind: events.KindGroup, Title: fmt.Sprint("t", i),
					ReplyPermission: events.ReplyAdminsOnly, Pinned: r.IntN(2) == 0, Closed: r.IntN(4) == 0, CreatedBy: "u0", UpdatedBy: "u0"})
			} else {
				can := r.IntN(2) == 0
				add(&events.ParticipantUpdated{ConversationID: c, UserID: u, Role: []events.Role{events.RoleAdmin, events.RoleMember,
					events.RoleReadOnly}[r.IntN(3)], CanReply: &can, UpdatedBy: "u0"})
			}
		case k == 0: // a repeated creation changes nothing
			add(&events.ConversationCreated{ConversationID: c, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
				CreatedBy: "u0", Members: some(1)})
		case k == 1 && r.IntN(2) == 0:
			var to []string
			for _, v := range users { // sorted
				if r.IntN(3) == 0 {
					to = append(to, v)
				}
			}
			if len(to) == 0 {
				to = []string{u}
			}
			add(&events.AnnouncementTargeted{AnnouncementID: c, ConversationID: c, MessageID: "ma", From: "u0", Title: "t",
				ReplyPermission: events.ReplyNone, Targets: []events.Target{{Entity: "all", Role: "all"}},
				Part: 1, Parts: 1, Total: len(to), Recipients: to})
		case k < 4:
			role := events.RoleMember
			if r.IntN(4) == 0 {
				role = events.RoleAdmin
			}
			add(&events.MemberJoined{ConversationID: c, UserID: u, Role: role, AddedBy: "u0"})
		case k < 7:
			add(&events.MemberLeft{ConversationID: c, UserID: u, RemovedBy: "u0"})
		case k < 10 || len(posted) == 0:
			m := &events.MessagePosted{MessageID: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint("k", i), ConversationID: c,
				SenderID: u, SenderType: events.ActorUser, Content: fmt.Sprint("body-", i), ContentType: events.ContentText}
			posted = append(posted, m)
			add(m)
			if r.IntN(6) == 0 {
				add(m)
			}
		case k < 13:
			m := posted[r.IntN(len(posted))]
			status := events.StatusApproved
			if r.IntN(5) == 0 {
				status = events.StatusRejected
			} else {
				approved = append(approved, m)
			}
			add(&events.MessageModerated{MessageID: m.MessageID, ConversationID: m.ConversationID, SenderID: m.SenderID,
				ClientMsgID: m.ClientMsgID, Status: status})
		case len(approved) == 0:
		case k < 15:
			m := approved[r.IntN(len(approved))]
			add(&events.MessageEdited{MessageID: m.MessageID, ConversationID: m.ConversationID, ClientMsgID: fmt.Sprint("edit", i),
				Content: fmt.Sprint("edited-", i), Message: postingOf(m)})
		case k < 16:
			m := approved[r.IntN(len(approved))]
			add(&events.MessageDeleted{MessageID: m.MessageID, ConversationID: m.ConversationID, ClientMsgID: fmt.Sprint("del", i),
				DeletedBy: m.SenderID, Message: postingOf(m)})
		default:
			m := approved[r.IntN(len(approved))]
			var senders []string
			for _, s := range users {
				if s != u && r.IntN(3) == 0 {
					senders = append(senders, s)
				}
			}
			rc := events.Receipt{ConversationID: m.ConversationID, UserID: u, MessageID: m.MessageID, MessageSeq: 1, Senders: senders}
			if k < 18 {
				add(&events.ReadReceipt{Receipt: rc})
			} else {
				add(&events.DeliveryReceipt{Receipt: rc})
			}
		}
	}
	return out
}

func postingOf(m *events.MessagePosted) events.Posting {
	return events.Posting{ClientMsgID: m.ClientMsgID, SenderID: m.SenderID, SenderType: m.SenderType, ContentType: m.ContentType, PostedSeq: 1}
}

// leakModel is an independent model of who may see what at each position:
// conversations' members and roles, folded from the same events, and the
// deliveries the contract entitles them to, "type seq user" once each.
type leakModel struct {
	room
	members  map[string]map[string]events.Role
	posted   map[string]bool
	decided  map[string]bool
	want     map[string]bool
	upToJoin int // fan-out's documented subsets for large conversations
	upToRcpt int
}

func (m *leakModel) entitle(typ string, seq uint64, users ...string) {
	for _, u := range users {
		m.want[fmt.Sprint(typ, " ", seq, " ", u)] = true
	}
}

func (m *leakModel) all(conv string) []string {
	var out []string
	for u := range m.members[conv] {
		out = append(out, u)
	}
	return out
}

// joinAudience: everyone in a small conversation; in a large one the user
// and the admins.
func (m *leakModel) joinAudience(conv, user string) []string {
	if len(m.members[conv]) <= m.upToJoin {
		return m.all(conv)
	}
	out := []string{user}
	for u, role := range m.members[conv] {
		if role == events.RoleAdmin && u != user {
			out = append(out, u)
		}
	}
	return out
}

// receiptAudience: everyone in a small conversation; in a large one the
// reader and the senders covered, while members.
func (m *leakModel) receiptAudience(r *events.Receipt) []string {
	if len(m.members[r.ConversationID]) <= m.upToRcpt {
		return m.all(r.ConversationID)
	}
	var out []string
	for _, u := range append([]string{r.UserID}, r.Senders...) {
		if _, ok := m.members[r.ConversationID][u]; ok {
			out = append(out, u)
		}
	}
	return out
}

func (m *leakModel) fold(e *events.Envelope) {
	p, _ := e.Payload()
	switch p := p.(type) {
	case *events.ConversationCreated:
		if m.members[p.ConversationID] != nil {
			return
		}
		m.members[p.ConversationID] = map[string]events.Role{}
		for _, u := range p.Members {
			m.members[p.ConversationID][u.UserID] = u.Role
		}
		m.entitle("conversation.created", e.Seq, m.all(p.ConversationID)...)
		for _, u := range p.Members {
			if u.UserID != p.CreatedBy {
				m.notified(e.Seq, u.UserID, p.ConversationID)
			}
		}
	case *events.MemberJoined:
		ms := m.members[p.ConversationID]
		if ms == nil || ms[p.UserID] == p.Role {
			return
		}
		if _, member := ms[p.UserID]; !member && p.UserID != p.AddedBy {
			m.notified(e.Seq, p.UserID, p.ConversationID)
		}
		ms[p.UserID] = p.Role
		m.entitle("member.joined", e.Seq, m.joinAudience(p.ConversationID, p.UserID)...)
	case *events.MemberLeft:
		ms := m.members[p.ConversationID]
		if _, ok := ms[p.UserID]; !ok {
			return
		}
		m.entitle("member.left", e.Seq, m.joinAudience(p.ConversationID, p.UserID)...)
		delete(ms, p.UserID)
	case *events.ConversationUpdated:
		if m.members[p.ConversationID] != nil {
			m.entitle("conversation.updated", e.Seq, m.all(p.ConversationID)...)
		}
	case *events.ParticipantUpdated:
		ms := m.members[p.ConversationID]
		if _, ok := ms[p.UserID]; !ok {
			return
		}
		ms[p.UserID] = p.Role
		m.entitle("member.updated", e.Seq, m.joinAudience(p.ConversationID, p.UserID)...)
	case *events.AnnouncementTargeted:
		ms := m.members[p.ConversationID]
		if ms == nil {
			return
		}
		for _, u := range p.Recipients { // told once, when they become members
			if _, ok := ms[u]; !ok {
				ms[u] = events.RoleMember
				m.entitle("announcement.new", e.Seq, u)
			}
		}
	case *events.AnonymousConverted:
		ms := m.members[p.ConversationID]
		role, ok := ms[p.AnonymousID]
		if !ok {
			return
		}
		delete(ms, p.AnonymousID)
		ms[p.UserID] = role
		m.entitle("conversation.updated", e.Seq, m.all(p.ConversationID)...)
	case *events.ConversationTransferred:
		if m.members[p.ConversationID] != nil {
			m.entitle("conversation.updated", e.Seq, m.all(p.ConversationID)...)
		}
	case *events.MessagePosted:
		m.posted[p.MessageID] = true
	case *events.MessageModerated:
		if !m.posted[p.MessageID] || m.decided[p.MessageID] {
			return
		}
		m.decided[p.MessageID] = true
		m.entitle("moderation.result", e.Seq, p.SenderID)
		if p.Status == events.StatusApproved {
			m.entitle("message.new", e.Seq, m.all(p.ConversationID)...)
		}
	case *events.MessageEdited:
		m.entitle("message.edited", e.Seq, m.all(p.ConversationID)...)
	case *events.MessageDeleted:
		m.entitle("message.deleted", e.Seq, m.all(p.ConversationID)...)
	case *events.ReadReceipt:
		if m.members[p.ConversationID] != nil {
			m.entitle("read.receipt", e.Seq, m.receiptAudience(&p.Receipt)...)
		}
	case *events.DeliveryReceipt:
		if m.members[p.ConversationID] != nil {
			m.entitle("delivery.receipt", e.Seq, m.receiptAudience(&p.Receipt)...)
		}
	default:
		m.foldRoom(e, p)
	}
}

// kindOf is the topic kind each delivery type goes to (PROTOCOL §2).
var kindOf = map[string]string{
	"message.new": "messages", "message.edited": "messages", "message.deleted": "messages",
	"read.receipt": "receipts", "delivery.receipt": "receipts",
	"conversation.created": "conversations", "member.joined": "conversations", "member.left": "conversations",
	"conversation.updated": "conversations", "member.updated": "conversations",
	"moderation.result": "moderation", "announcement.new": "announcements",
	"group.created": "conversations", "group.updated": "conversations", "group.member_joined": "conversations",
	"group.member_left": "conversations",
	"notification.new":  "notifications", "notifications.read": "notifications", "settings.changed": "settings",
}

// personal deliveries go to one user for what they did or what concerns
// them alone: the model's entitlements check them, not membership.
var personal = map[string]bool{"moderation.result": true, "notification.new": true, "notifications.read": true,
	"settings.changed": true}

// TestDeliveriesFollowMembershipAtEachPosition checks the zero-leak
// invariant over random churn, for every type fan-out delivers: each
// delivery reaches a user the contract entitles to it at the position of its
// event (a member then, within fan-out's documented subsets for large
// conversations; moderation.result only the sender), exactly once, and each
// entitled user gets it, however the history is cut into batches and
// wherever fan-out restarts and is handed events again.
func TestDeliveriesFollowMembershipAtEachPosition(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		evs := churn(t, r, 600)
		apps := config.Defaults()
		if seed%2 == 1 { // small limits: the subsets for large conversations
			apps["geosector"].Limits.MemberEventsUpTo = 2 + r.IntN(3)
			apps["geosector"].Limits.ReceiptsToAllUpTo = 2 + r.IntN(3)
		}
		lim := apps["geosector"].Limits
		m := &leakModel{room: newRoom(), members: map[string]map[string]events.Role{}, posted: map[string]bool{}, decided: map[string]bool{},
			want: map[string]bool{}, upToJoin: lim.MemberEventsUpTo, upToRcpt: lim.ReceiptsToAllUpTo}
		// Members at each position, for a leak check independent of the
		// subsets: those just before the event (a leaver hears of their
		// leaving) and just after it (a joiner of their joining).
		membersAt := map[uint64]map[string]bool{}
		for _, e := range evs {
			p, _ := e.Payload()
			at := map[string]bool{}
			for u := range m.scopeMembers(p) {
				at[u] = true
			}
			m.fold(e)
			for u := range m.scopeMembers(p) {
				at[u] = true
			}
			membersAt[e.Seq] = at
		}

		// Fan-out handles a prefix in random batches, then stops; a new one
		// restores what it had acknowledged and is handed events again
		// from a little before that point, as a consumer redelivers.
		out := &capture{}
		cut := r.IntN(len(evs))
		first := New(apps, out)
		handle(t, r, first, evs[:cut])
		second := New(apps, out)
		second.Restore(evs[:cut])
		handle(t, r, second, evs[max(0, cut-r.IntN(50)):])

		got := map[string]int{}
		for _, d := range out.got {
			var env struct {
				Type string
				Seq  uint64
			}
			if err := json.Unmarshal(d.Payload, &env); err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(d.Topic, "/")
			user, kind := parts[2], parts[3]
			if kindOf[env.Type] != kind {
				t.Fatalf("seed %d: %s delivered on %s", seed, env.Type, d.Topic)
			}
			if !personal[env.Type] && !membersAt[env.Seq][user] {
				t.Fatalf("seed %d: %s at %d to %s, who is no member at that position", seed, env.Type, env.Seq, user)
			}
			got[fmt.Sprint(env.Type, " ", env.Seq, " ", user)]++
		}
		types := map[string]bool{}
		for k, n := range got {
			if !m.want[k] {
				t.Fatalf("seed %d: delivery %q to someone not entitled to it at that position", seed, k)
			}
			if n != 1 {
				t.Fatalf("seed %d: delivery %q made %d times", seed, k, n)
			}
			types[strings.Fields(k)[0]] = true
		}
		for k := range m.want {
			if got[k] == 0 {
				t.Fatalf("seed %d: never delivered %q", seed, k)
			}
		}
		if len(types) != len(kindOf) {
			t.Fatalf("seed %d: the history exercised only %v", seed, types)
		}
	}
}

func handle(t *testing.T, r *rand.Rand, s *Service, evs []*events.Envelope) {
	t.Helper()
	for i := 0; i < len(evs); {
		n := 1 + r.IntN(40)
		if err := s.Handle(context.Background(), evs[i:min(i+n, len(evs))]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
}

func conversationOf(p events.Payload) string {
	switch p := p.(type) {
	case *events.ConversationCreated:
		return p.ConversationID
	case *events.MemberJoined:
		return p.ConversationID
	case *events.MemberLeft:
		return p.ConversationID
	case *events.MessagePosted:
		return p.ConversationID
	case *events.MessageModerated:
		return p.ConversationID
	case *events.MessageEdited:
		return p.ConversationID
	case *events.MessageDeleted:
		return p.ConversationID
	case *events.ReadReceipt:
		return p.ConversationID
	case *events.DeliveryReceipt:
		return p.ConversationID
	case *events.ConversationUpdated:
		return p.ConversationID
	case *events.ParticipantUpdated:
		return p.ConversationID
	case *events.AnnouncementTargeted:
		return p.ConversationID
	case *events.AnonymousConverted:
		return p.ConversationID
	case *events.ConversationTransferred:
		return p.ConversationID
	}
	return ""
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
