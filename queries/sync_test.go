package queries_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/projections"
	"github.com/chatbackend/chat/queries"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/fanout"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	"github.com/chatbackend/chat/sql/db"
)

type capture struct{ got []bridge.Delivery }

func (c *capture) Send(d bridge.Delivery)      { c.got = append(c.got, d) }
func (c *capture) Flush(context.Context) error { return nil }

// churn builds a random history as the log can hold it: conversations
// created along the way, changed by admins, members joining (again, with
// another role), changed by admins, leaving, announcement parts adding
// recipients (some members already), messages posted (some twice) and
// decided (some twice), edited and
// deleted once approved, read and delivered receipts moving forward. With
// small audience bounds most conversations are "large": member events and
// receipts go to a subset.
func churn(r *rand.Rand, n int) []*events.Envelope {
	var out []*events.Envelope
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(p events.Payload) {
		at = at.Add(time.Duration(1+r.IntN(5000)) * time.Microsecond)
		e, err := events.New(fmt.Sprint("e", len(out)), "geosector", at, events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			panic(err)
		}
		e.Seq = uint64(len(out) + 1)
		out = append(out, e)
	}
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6"}
	roles := []events.Role{events.RoleMember, events.RoleMember, events.RoleAdmin, events.RoleReadOnly}
	var convs []string
	create := func() {
		c := fmt.Sprint("c", len(convs))
		convs = append(convs, c)
		members := []events.Member{{UserID: "u0", Role: events.RoleAdmin}}
		for _, u := range users[1:] {
			if r.IntN(3) == 0 {
				members = append(members, events.Member{UserID: u, Role: roles[r.IntN(len(roles))]})
			}
		}
		add(&events.ConversationCreated{ConversationID: c, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
			CreatedBy: "u0", Members: members})
	}
	create()
	// Every other conversation is a visitor's (anon-{id}, with u0 as its
	// professional), converted into client-{id} at some point, and now and
	// then transferred.
	visitors := map[string]string{}  // conversation → visitor, until converted
	converted := map[string]string{} // conversation → visitor, once converted
	visit := func() {
		c := fmt.Sprint("v", len(convs))
		convs = append(convs, c)
		visitors[c] = "anon-" + c
		add(&events.ConversationCreated{ConversationID: c, Kind: events.KindOneToOne, ReplyPermission: events.ReplyAll,
			CreatedBy: "anon-" + c, Members: []events.Member{{UserID: "anon-" + c, Role: events.RoleMember}, {UserID: "u0", Role: events.RoleAdmin}}})
	}
	type msg struct {
		p        *events.MessagePosted
		at       time.Time
		seq      uint64
		status   events.ModerationStatus
		decided  bool
		deleted  bool
		postedAt time.Time
	}
	var posted []*msg
	receipts := map[string]int{} // conv user kind → index in posted of the last receipt
	room := &testkit.RoomChurn{}
	for i := 0; len(out) < n; i++ {
		c, u := convs[r.IntN(len(convs))], users[r.IntN(len(users))]
		if r.IntN(5) == 0 { // groups and the user room
			room.Step(r, add, u, c)
			continue
		}
		switch k := r.IntN(20); {
		case k == 19:
			// An admin's change of the conversation or of a participant
			// (who may not be a member at this position).
			if r.IntN(2) == 0 {
				add(&events.ConversationUpdated{ConversationID: c, Kind: events.KindGroup, Title: fmt.Sprintf("title <%d> & \u2028", i),
					Settings: events.Settings{"n": float64(i)}, ReplyPermission: events.ReplyAdminsOnly, Pinned: r.IntN(2) == 0,
					Closed: r.IntN(4) == 0, CreatedBy: "u0", CreatedAt: at, UpdatedBy: "u0"})
			} else {
				var can *bool
				if v := r.IntN(3); v < 2 {
					b := v == 0
					can = &b
				}
				add(&events.ParticipantUpdated{ConversationID: c, UserID: u, Role: roles[r.IntN(len(roles))], CanReply: can, UpdatedBy: "u0"})
			}
		case k == 0 && len(convs) < 4 && len(convs)%2 == 1:
			visit()
		case k == 0 && len(convs) < 4:
			create()
		case k == 16 && r.IntN(3) == 0 && visitors[c] != "":
			add(&events.AnonymousConverted{ConversationID: c, AnonymousID: visitors[c], UserID: "client-" + c, ConvertedBy: "u0"})
			converted[c] = visitors[c]
			delete(visitors, c)
		case k == 16 && r.IntN(3) == 1 && c[0] == 'v':
			add(&events.MemberJoined{ConversationID: c, UserID: u, Role: events.RoleAdmin, AddedBy: "u0"})
			add(&events.MemberLeft{ConversationID: c, UserID: "u0", RemovedBy: "u0"})
			add(&events.ConversationTransferred{ConversationID: c, FromUserIDs: []string{"u0"}, ToUserID: u, TransferredBy: "u0"})
		case k < 4:
			add(&events.MemberJoined{ConversationID: c, UserID: u, Role: roles[r.IntN(len(roles))], AddedBy: "u0"})
		case k == 4 && r.IntN(2) == 0:
			var to []string
			for _, v := range users { // sorted
				if r.IntN(3) == 0 {
					to = append(to, v)
				}
			}
			if len(to) == 0 {
				to = []string{u}
			}
			a := &events.AnnouncementTargeted{AnnouncementID: fmt.Sprint("a", i), ConversationID: c, MessageID: "m0", From: "u0",
				Title: fmt.Sprint("annonce <", i, ">"), Content: "à tous", ReplyPermission: events.ReplyNone, Pinned: r.IntN(2) == 0,
				Targets: []events.Target{{Entity: "all", Role: "all"}}, Part: 1, Parts: 1, Total: len(to), Recipients: to}
			if r.IntN(2) == 0 {
				expires := at.Add(time.Hour)
				a.ExpiresAt = &expires
			}
			add(a)
		case k < 6:
			add(&events.MemberLeft{ConversationID: c, UserID: u, RemovedBy: "u0"})
		case k < 10 || len(posted) == 0:
			m := &events.MessagePosted{MessageID: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint("k", i), ConversationID: c,
				SenderID: u, SenderType: events.ActorUser, Content: fmt.Sprintf("body <%d> & \u2028", i), ContentType: events.ContentText}
			if anon := visitors[c]; anon != "" && r.IntN(2) == 0 {
				m.SenderID, m.SenderType = anon, events.ActorAnonymous
			}
			if anon := converted[c]; anon != "" && r.IntN(6) == 0 {
				// A post the visitor sent as it was converted: it stays the visitor's.
				m.SenderID, m.SenderType = anon, events.ActorAnonymous
			}
			if r.IntN(4) == 0 {
				m.ReplyTo = "m0"
			}
			add(m)
			posted = append(posted, &msg{p: m, seq: uint64(len(out)), at: out[len(out)-1].At})
			if r.IntN(6) == 0 {
				add(m)
			}
		case k < 14:
			m := posted[r.IntN(len(posted))]
			status := []events.ModerationStatus{events.StatusApproved, events.StatusApproved, events.StatusRejected, events.StatusPending}[r.IntN(4)]
			reason := ""
			if status == events.StatusRejected {
				reason = events.ReasonNotMember
			}
			add(&events.MessageModerated{MessageID: m.p.MessageID, ConversationID: m.p.ConversationID, SenderID: m.p.SenderID,
				ClientMsgID: m.p.ClientMsgID, Status: status, Reason: reason, PostedSeq: m.seq})
			if !m.decided {
				m.decided, m.status = true, status
			}
		case k < 16:
			m := posted[r.IntN(len(posted))]
			if m.status != events.StatusApproved || m.deleted {
				continue
			}
			pst := events.Posting{ClientMsgID: m.p.ClientMsgID, SenderID: m.p.SenderID, SenderType: m.p.SenderType,
				ContentType: m.p.ContentType, ReplyTo: m.p.ReplyTo, PostedAt: m.at, PostedSeq: m.seq}
			if k == 14 {
				add(&events.MessageEdited{MessageID: m.p.MessageID, ConversationID: m.p.ConversationID, ClientMsgID: fmt.Sprint("ed", i),
					Content: fmt.Sprint("edited ", i), Message: pst})
			} else if r.IntN(3) == 0 {
				m.deleted = true
				add(&events.MessageDeleted{MessageID: m.p.MessageID, ConversationID: m.p.ConversationID, ClientMsgID: fmt.Sprint("del", i),
					DeletedBy: m.p.SenderID, Message: pst})
			}
		default:
			j := r.IntN(len(posted))
			m := posted[j]
			if anon := visitors[m.p.ConversationID]; anon != "" && r.IntN(2) == 0 {
				u = anon
			}
			kind := []string{"read", "delivered"}[r.IntN(2)]
			key := m.p.ConversationID + " " + u + " " + kind
			if last, ok := receipts[key]; ok && last >= j {
				continue // receipts only move forward
			}
			receipts[key] = j
			var senders []string
			for _, s := range users {
				if s != u && r.IntN(3) == 0 {
					senders = append(senders, s)
				}
			}
			rc := events.Receipt{ConversationID: m.p.ConversationID, UserID: u, MessageID: m.p.MessageID, MessageSeq: m.seq, Senders: senders}
			if kind == "read" {
				add(&events.ReadReceipt{Receipt: rc})
			} else {
				add(&events.DeliveryReceipt{Receipt: rc})
			}
		}
	}
	return out
}

// batches cuts evs into random runs.
func batches(r *rand.Rand, evs []*events.Envelope, max int) [][]*events.Envelope {
	var out [][]*events.Envelope
	for i := 0; i < len(evs); {
		n := 1 + r.IntN(max)
		out = append(out, evs[i:min(i+n, len(evs))])
		i += n
	}
	return out
}

// TestSyncGivesEachUserTheDeliveriesOfFanout applies random histories both to
// fan-out, capturing every delivery, and to the projector on PostgreSQL; for
// every user and several positions, the sync pages put end to end equal that
// user's deliveries after the position, byte for byte, except the content of
// a deleted message, empty everywhere in sync (its message.new and edits).
func TestSyncGivesEachUserTheDeliveriesOfFanout(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 11))
		evs := churn(r, 600)
		apps := config.Defaults()
		apps["geosector"].Limits.MemberEventsUpTo = 3
		apps["geosector"].Limits.ReceiptsToAllUpTo = 3

		out := &capture{}
		fan := fanout.New(apps, out)
		for _, b := range batches(r, evs, 40) {
			if err := fan.Handle(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		live := map[string][][]byte{}
		types := map[string]int{}
		for _, d := range out.got {
			var env struct{ Type string }
			_ = json.Unmarshal(d.Payload, &env)
			types[env.Type]++
			user := strings.Split(d.Topic, "/")[2]
			live[user] = append(live[user], d.Payload)
		}
		asHistory(t, evs, live)

		pool := testkit.Pool(t)
		// Two projectors one after the other: the second loads its roster
		// from the read model.
		switchAt := r.IntN(len(evs))
		p := &projections.Projector{Pool: pool, Log: testkit.Logger(t), Apps: apps}
		for _, b := range batches(r, evs, 60) {
			if b[0].Seq > uint64(switchAt) && p != nil {
				p = &projections.Projector{Pool: pool, Log: testkit.Logger(t), Apps: apps}
				switchAt = len(evs) + 1
			}
			if err := p.Apply(ctx, jet.Batch{Events: b, Last: b[len(b)-1].Seq}); err != nil {
				t.Fatal(err)
			}
		}
		if len(types) < 8 || types["conversation.updated"] == 0 || types["member.updated"] == 0 || types["announcement.new"] == 0 {
			t.Fatalf("seed %d: the history exercises only %v", seed, types)
		}
		for _, typ := range testkit.RoomDeliveries {
			if types[typ] == 0 {
				t.Fatalf("seed %d: the history never delivers %s", seed, typ)
			}
		}
		deleted := map[string]bool{}
		for _, e := range evs {
			if pl, _ := e.Payload(); pl != nil {
				if d, ok := pl.(*events.MessageDeleted); ok {
					deleted[d.MessageID] = true
				}
			}
		}

		store := queries.Store{Q: db.New(pool), DB: pool}
		for _, user := range []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "nobody", "anon-v1", "anon-v3", "client-v1", "client-v3"} {
			for _, since := range []uint64{0, uint64(r.IntN(len(evs))), uint64(r.IntN(len(evs))), uint64(len(evs))} {
				var want [][]byte
				for _, p := range live[user] {
					if envSeq(t, p) > since {
						want = append(want, p)
					}
				}
				got := syncAll(t, store, user, since, 1+r.IntN(60), uint64(len(evs)))
				if len(got) != len(want) {
					t.Fatalf("seed %d, %s since %d: sync gave %d deliveries, fan-out %d\nsync:    %s\nfan-out: %s",
						seed, user, since, len(got), len(want), firstDiff(got, want), firstDiff(want, got))
				}
				for i := range want {
					if !sameDelivery(t, got[i], want[i], deleted) {
						t.Fatalf("seed %d, %s since %d, delivery %d:\nsync:    %s\nfan-out: %s", seed, user, since, i, got[i], want[i])
					}
				}
			}
		}
		pool.Close()
	}
}

// asHistory turns live deliveries into what sync gives once visitors are
// converted: everything delivered about the conversation before the
// conversion names the client where it named the visitor (its messages
// are the client's, senderType user), and the visitor's deliveries before it
// are the client's; the visitor keeps only the decisions on posts it sent as
// it was converted.
func asHistory(t *testing.T, evs []*events.Envelope, live map[string][][]byte) {
	for _, e := range evs {
		p, _ := e.Payload()
		cv, ok := p.(*events.AnonymousConverted)
		if !ok {
			continue
		}
		for _, ps := range live {
			for i, b := range ps {
				var env struct {
					Seq  uint64
					Data struct{ ConversationID, ID string } // conversation.updated names it by id
				}
				if err := json.Unmarshal(b, &env); err != nil {
					t.Fatal(err)
				}
				if env.Seq < e.Seq && (env.Data.ConversationID == cv.ConversationID || env.Data.ID == cv.ConversationID) {
					b = bytes.ReplaceAll(b, []byte(`"`+cv.AnonymousID+`"`), []byte(`"`+cv.UserID+`"`))
					ps[i] = bytes.ReplaceAll(b, []byte(`"senderType":"anonymous"`), []byte(`"senderType":"user"`))
				}
			}
		}
		// The visitor keeps only what concerns its stray posts after it.
		var before, after [][]byte
		for _, b := range live[cv.AnonymousID] {
			if envSeq(t, b) < e.Seq {
				before = append(before, b)
			} else {
				after = append(after, b)
			}
		}
		live[cv.UserID], live[cv.AnonymousID] = append(before, live[cv.UserID]...), after
		slices.SortStableFunc(live[cv.UserID], func(a, b []byte) int { return cmp.Compare(envSeq(t, a), envSeq(t, b)) })
	}
}

// syncAll follows a user's sync pages from since to the end.
func syncAll(t *testing.T, s queries.Store, user string, since uint64, limit int, end uint64) [][]byte {
	t.Helper()
	var out [][]byte
	for range 10000 {
		page, err := s.Sync(context.Background(), "geosector", user, since, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > limit+1 || len(page.Events) == 0 && page.HasMore {
			t.Fatalf("page of %d events for limit %d, hasMore %v", len(page.Events), limit, page.HasMore)
		}
		if page.Next < since {
			t.Fatalf("next %d went back from %d", page.Next, since)
		}
		for _, e := range page.Events {
			out = append(out, e)
		}
		if !page.HasMore {
			if page.Next != end {
				t.Fatalf("last page's next = %d, want the read model's position %d", page.Next, end)
			}
			return out
		}
		since = page.Next
	}
	t.Fatal("sync never ends")
	return nil
}

func envSeq(t *testing.T, b []byte) uint64 {
	var env struct{ Seq uint64 }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env.Seq
}

// sameDelivery compares bytes; a deleted message's message.new and
// message.edited compare with the live content emptied.
func sameDelivery(t *testing.T, got, want []byte, deleted map[string]bool) bool {
	if bytes.Equal(got, want) {
		return true
	}
	var g, w map[string]any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		return false
	}
	data, _ := w["data"].(map[string]any)
	if (w["type"] == "message.new" || w["type"] == "message.edited") && data != nil && deleted[fmt.Sprint(data["id"])] {
		data["content"] = ""
	}
	return reflect.DeepEqual(g, w)
}

func firstDiff(a, b [][]byte) string {
	for i := range a {
		if i >= len(b) || !bytes.Equal(a[i], b[i]) {
			return string(a[i])
		}
	}
	return "(none)"
}

// TestSyncBeforeTheHorizonIsGone: a read model upgraded to sync at some
// position cannot answer for earlier ones.
func TestSyncBeforeTheHorizonIsGone(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	if _, err := pool.Exec(ctx, "UPDATE sync_horizon SET horizon = 10"); err != nil {
		t.Fatal(err)
	}
	store := queries.Store{Q: db.New(pool), DB: pool}
	if _, err := store.Sync(ctx, "geosector", "u1", 9, 500); err != queries.ErrGone {
		t.Fatalf("since 9 before horizon 10: %v, want gone", err)
	}
	page, err := store.Sync(ctx, "geosector", "u1", 10, 500)
	if err != nil || len(page.Events) != 0 || page.HasMore || page.Next != 10 {
		t.Fatalf("since the horizon: %+v, %v", page, err)
	}
}
