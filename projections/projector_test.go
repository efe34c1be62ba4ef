package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
	"github.com/chatbackend/chat/sql/db"
)

// history appends a random but reproducible history: conversations, members
// joining and leaving, messages posted (some twice) and moderated.
func history(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []*events.Envelope
	add := func(id string, p events.Payload) {
		at = at.Add(time.Second)
		e, err := events.New(id, "geosector", at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	convs := []string{"c1", "c2", "c3"}
	perms := []events.ReplyPermission{events.ReplyAll, events.ReplyAdminsOnly, events.ReplySenderOnly, events.ReplyNone}
	for _, c := range convs {
		add("conv-"+c, &events.ConversationCreated{ConversationID: c, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
			CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}})
	}
	add(events.ServiceAccountID("geosector", "bot"), &events.ServiceAccountCreated{Name: "bot"}) // not in the read model
	add(events.NewEventID(), &events.WebhooksChanged{Webhooks: []events.Webhook{{ID: "audit", URL: "https://hooks.example.com/",
		Events: []string{"*"}, SealedSecret: "v1.c2VhbGVk"}}}) // nor this
	add(events.NewEventID(), &events.ModerationRulesChanged{Rules: events.ModerationRules{Enabled: true,
		BadWordsAction: events.ActionReject, FloodWindowSeconds: 10}}) // nor this
	announce(add)
	var posted []*events.MessagePosted
	postedSeq := map[string]uint64{}
	room := &testkit.RoomChurn{}
	visitors := &visitorHistory{}
	for i := 0; len(evs) < n; i++ {
		c := convs[r.IntN(len(convs))]
		if r.IntN(8) == 0 { // groups and the user room
			room.Step(r, func(p events.Payload) { add(events.NewEventID(), p) }, users[r.IntN(len(users))], c)
			continue
		}
		switch k := r.IntN(10); {
		case k == 0:
			add(events.NewEventID(), &events.MemberJoined{ConversationID: c, UserID: users[r.IntN(len(users))], Role: events.RoleMember, AddedBy: "alice"})
		case k == 1:
			add(events.NewEventID(), &events.MemberLeft{ConversationID: c, UserID: users[1+r.IntN(len(users)-1)], RemovedBy: "alice"})
		case k < 6 || len(posted) == 0:
			sender := users[r.IntN(len(users))]
			m := &events.MessagePosted{MessageID: events.MessageID("geosector", sender, fmt.Sprint("m", i)), ClientMsgID: fmt.Sprint("m", i),
				ConversationID: c, SenderID: sender, SenderType: events.ActorUser, Content: fmt.Sprint("message ", i), ContentType: events.ContentText}
			posted = append(posted, m)
			postedSeq[m.MessageID] = uint64(len(evs) + 1)
			add(fmt.Sprint("posted-", i), m) // distinct event ids: repeats model retries after the dedup window
			if r.IntN(8) == 0 {
				add(fmt.Sprint("posted-again-", i), m)
			}
		case k == 6 && r.IntN(2) == 0:
			m := posted[r.IntN(len(posted))]
			add(fmt.Sprint("edit-", i), &events.MessageEdited{MessageID: m.MessageID, ConversationID: m.ConversationID,
				ClientMsgID: fmt.Sprint("e", i), Content: fmt.Sprint("edited ", i), Message: posting(m)})
		case k == 7 && r.IntN(4) == 0:
			m := posted[r.IntN(len(posted))]
			add(fmt.Sprint("delete-", i), &events.MessageDeleted{MessageID: m.MessageID, ConversationID: m.ConversationID,
				ClientMsgID: fmt.Sprint("d", i), DeletedBy: m.SenderID, Message: posting(m)})
		case k == 9 && r.IntN(3) == 0:
			visitors.step(r, add, func(m *events.MessagePosted) {
				posted = append(posted, m)
				postedSeq[m.MessageID] = uint64(len(evs) + 1)
			}, postedSeq)
		case k == 8 && r.IntN(2) == 0:
			// Receipts of members and former members, in any order: the
			// positions they leave only ever move forward.
			m := posted[r.IntN(len(posted))]
			rc := events.Receipt{ConversationID: m.ConversationID, UserID: users[r.IntN(len(users))], MessageID: m.MessageID,
				MessageSeq: postedSeq[m.MessageID]}
			if r.IntN(2) == 0 {
				add(fmt.Sprint("read-", i), &events.ReadReceipt{Receipt: rc})
			} else {
				add(fmt.Sprint("delivered-", i), &events.DeliveryReceipt{Receipt: rc})
			}
		case k == 9 && r.IntN(6) == 0:
			// An admin's change of the conversation (closing it, now and
			// then) or of a participant, member or not at this position.
			if r.IntN(2) == 0 {
				add(events.NewEventID(), &events.ConversationUpdated{ConversationID: c, Kind: events.KindGroup,
					Title: fmt.Sprint("title ", i), Settings: events.Settings{"n": float64(i), "on": r.IntN(2) == 0},
					ReplyPermission: perms[r.IntN(len(perms))], Pinned: r.IntN(2) == 0, Closed: r.IntN(5) == 0,
					CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice"})
			} else {
				var can *bool
				if v := r.IntN(3); v < 2 {
					b := v == 0
					can = &b
				}
				add(events.NewEventID(), &events.ParticipantUpdated{ConversationID: c, UserID: users[r.IntN(len(users))],
					Role: []events.Role{events.RoleAdmin, events.RoleMember, events.RoleReadOnly}[r.IntN(3)], CanReply: can, UpdatedBy: "alice"})
			}
		default:
			m := posted[r.IntN(len(posted))]
			status := []events.ModerationStatus{events.StatusApproved, events.StatusRejected}[r.IntN(2)]
			add(fmt.Sprint("mod-", i), &events.MessageModerated{MessageID: m.MessageID, ConversationID: m.ConversationID,
				SenderID: m.SenderID, ClientMsgID: m.ClientMsgID, Status: status})
		}
	}
	if _, err := jet.NewAppender(js).AppendAll(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func posting(m *events.MessagePosted) events.Posting {
	return events.Posting{ClientMsgID: m.ClientMsgID, SenderID: m.SenderID, SenderType: m.SenderType,
		ContentType: m.ContentType, PostedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PostedSeq: 1}
}

// expected folds the log with a model written independently of changes.go.
func expected(t *testing.T, js jetstream.JetStream) (members, messages []string) {
	t.Helper()
	in := map[string]bool{}
	msgs := map[string]string{}
	content := map[string]string{}
	var order []string
	err := jet.Read(context.Background(), js, jet.ReadOptions{Until: lastSeq(t, js), Park: jet.NewParker(js, "test", testkit.Logger(t))},
		func(_ context.Context, b jet.Batch) error {
			for _, e := range b.Events {
				p, _ := e.Payload()
				switch p := p.(type) {
				case *events.ConversationCreated:
					for _, m := range p.Members {
						in[p.ConversationID+"/"+m.UserID] = true
					}
				case *events.MemberJoined:
					in[p.ConversationID+"/"+p.UserID] = true
				case *events.MemberLeft:
					delete(in, p.ConversationID+"/"+p.UserID)
				case *events.AnnouncementTargeted:
					for _, u := range p.Recipients {
						in[p.ConversationID+"/"+u] = true
					}
				case *events.AnonymousConverted:
					if in[p.ConversationID+"/"+p.AnonymousID] {
						delete(in, p.ConversationID+"/"+p.AnonymousID)
						in[p.ConversationID+"/"+p.UserID] = true
					}
				case *events.MessagePosted:
					if _, ok := msgs[p.MessageID]; !ok {
						msgs[p.MessageID] = "pending"
						content[p.MessageID] = p.Content
						order = append(order, p.MessageID)
					}
				case *events.MessageEdited:
					if c, ok := content[p.MessageID]; ok && c != "(deleted)" {
						content[p.MessageID] = p.Content + " (edited)"
					}
				case *events.MessageDeleted:
					if _, ok := content[p.MessageID]; ok {
						content[p.MessageID] = "(deleted)"
					}
				case *events.MessageModerated:
					if msgs[p.MessageID] == "pending" {
						msgs[p.MessageID] = string(p.Status)
					}
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for k := range in {
		members = append(members, k)
	}
	for _, id := range order {
		messages = append(messages, id+"="+msgs[id]+" "+content[id])
	}
	slices.Sort(members)
	slices.Sort(messages)
	return members, messages
}

func actual(t *testing.T, pool *pgxpool.Pool) (members, messages []string) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, "SELECT conversation_id || '/' || user_id FROM participants ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		members = append(members, s)
	}
	rows, err = pool.Query(ctx, `SELECT id || '=' || moderation_status || ' ' ||
		CASE WHEN deleted_at IS NOT NULL THEN '(deleted)' || content
		     WHEN edited_at IS NOT NULL THEN content || ' (edited)' ELSE content END FROM messages ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		messages = append(messages, s)
	}
	slices.Sort(members)
	slices.Sort(messages)
	return members, messages
}

func lastSeq(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := jet.LastSeq(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProjectorRestartMidBatchMatchesTheLog(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	pool, err := chatsql.Open(context.Background(), testkit.Postgres(t), testkit.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	history(t, js, 3000)
	last := lastSeq(t, js)

	// First run: the third batch fails just before commit, like a crash.
	crash := errors.New("crash before commit")
	var batches atomic.Int32
	p := &Projector{Pool: pool, JS: js, Log: testkit.Logger(t), MaxBatch: 100, beforeCommit: func(uint64) error {
		if batches.Add(1) == 3 {
			return crash
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Log = testkit.Logger(t)
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	testkit.Eventually(t, 20*time.Second, "the failed batch to be retried", func() bool { return batches.Load() > 3 })
	cancel()
	<-errc
	cp, err := Checkpoint(context.Background(), dbq(pool))
	if err != nil {
		t.Fatal(err)
	}
	if cp == 0 || cp >= last {
		t.Fatalf("checkpoint %d after a crash mid-way through %d events", cp, last)
	}

	// Second run: a new projector resumes from the checkpoint to the end.
	mark := NewWatermark(0)
	p2 := &Projector{Pool: pool, JS: js, Log: testkit.Logger(t), MaxBatch: 100, Watermark: mark}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { errc <- p2.Run(ctx2) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if !mark.Wait(wctx, last) {
		t.Fatalf("projector stopped at %d of %d", mark.Position(), last)
	}
	wantMembers, wantMessages := expected(t, js)
	gotMembers, gotMessages := actual(t, pool)
	if !slices.Equal(wantMembers, gotMembers) {
		t.Fatalf("participants differ from the log:\nwant %v\ngot  %v", wantMembers, gotMembers)
	}
	if !slices.Equal(wantMessages, gotMessages) {
		t.Fatalf("messages differ from the log: want %d rows, got %d", len(wantMessages), len(gotMessages))
	}
	if dead := parked(t, js); len(dead) != 0 {
		t.Fatalf("a failure that was not the events' fault parked %v", dead)
	}
}

func dbq(pool *pgxpool.Pool) *db.Queries { return db.New(pool) }

var slogDiscard = slog.New(slog.DiscardHandler)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// history2 appends a few more events after a first history.
func history2(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	e, err := events.New("more-"+events.NewEventID(), "geosector", time.Now(), events.Actor{ID: "alice", Type: events.ActorUser},
		&events.MemberJoined{ConversationID: "c2", UserID: "yann", Role: events.RoleMember, AddedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jet.NewAppender(js).Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}
