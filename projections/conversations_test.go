package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// Admins' changes and the last message land the same whatever the batches:
// a closing keeps the time of the first, a leave drops the reply override
// an admin set before it (the rejoined member has none), and the last
// message is the first posting of the message whose standing decision
// approved it, not a repeat's position nor a later decision's.
func TestConversationChangesLandTheSameWhateverTheBatches(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	no := false
	payloads := []events.Payload{
		&events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "alice",
			Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}},
		posted("m1", "bob"), // 2
		posted("m1", "bob"), // 3: a repeat
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "m1", Status: events.StatusApproved},
		&events.ParticipantUpdated{ConversationID: "c1", UserID: "bob", Role: events.RoleAdmin, CanReply: &no, UpdatedBy: "alice"},
		&events.MemberLeft{ConversationID: "c1", UserID: "bob", RemovedBy: "bob"},
		&events.MemberJoined{ConversationID: "c1", UserID: "bob", Role: events.RoleMember, AddedBy: "alice"},
		&events.ParticipantUpdated{ConversationID: "c1", UserID: "alice", Role: events.RoleAdmin, CanReply: &no, UpdatedBy: "alice"},
		&events.MemberJoined{ConversationID: "c1", UserID: "alice", Role: events.RoleReadOnly, AddedBy: "alice"}, // keeps her override
		&events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup, Title: "T", Settings: events.Settings{"b": 1.0, "a": "x"},
			ReplyPermission: events.ReplyNone, Pinned: true, Closed: true, CreatedBy: "alice", CreatedAt: base, UpdatedBy: "alice"}, // 10
		&events.ConversationUpdated{ConversationID: "c1", Kind: events.KindGroup, Title: "T2", ReplyPermission: events.ReplyNone,
			Closed: false, CreatedBy: "alice", CreatedAt: base, UpdatedBy: "alice"}, // does not reopen it
		&events.MessageModerated{MessageID: "m1", ConversationID: "c1", SenderID: "bob", ClientMsgID: "m1", Status: events.StatusRejected},
		posted("m2", "alice"),
		&events.MessageModerated{MessageID: "m2", ConversationID: "c1", SenderID: "alice", ClientMsgID: "m2", Status: events.StatusRejected},
	}
	evs := make([]*events.Envelope, len(payloads))
	for i, p := range payloads {
		e, err := events.New(fmt.Sprint("e", i+1), "geosector", base.Add(time.Duration(i+1)*time.Second),
			events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(i + 1)
		evs[i] = e
	}
	// The last change carries the whole state: its title, no settings,
	// not pinned; the closing of the change before stays.
	want := fmt.Sprintf("c1 T2 {} none pinned=false closed=%s last=2 | alice read_only false | bob member <nil> | "+
		"feed {5:member.updated,8:member.updated,10:conversation.updated,11:conversation.updated}",
		base.Add(10*time.Second).Format(time.RFC3339))
	for _, run := range batchRuns(len(evs)) {
		t.Run(run.name, func(t *testing.T) {
			ctx := context.Background()
			pool := applyInBatches(t, evs, run)
			var conv, alice, bob, feed string
			err := pool.QueryRow(ctx, `SELECT id || ' ' || title || ' ' || settings::text || ' ' || reply_permission || ' pinned=' || pinned
				|| ' closed=' || to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' last=' || last_message_seq
				FROM conversations`).Scan(&conv)
			if err != nil {
				t.Fatal(err)
			}
			for user, out := range map[string]*string{"alice": &alice, "bob": &bob} {
				var role string
				var can *bool
				if err := pool.QueryRow(ctx, "SELECT role, can_reply FROM participants WHERE user_id = $1", user).Scan(&role, &can); err != nil {
					t.Fatal(err)
				}
				*out = fmt.Sprintf("%s %s %v", user, role, showBool(can))
			}
			if err := pool.QueryRow(ctx, `SELECT array_agg(seq || ':' || type ORDER BY seq)::text FROM conversation_feed
				WHERE type IN ('conversation.updated', 'member.updated')`).Scan(&feed); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s | %s | %s | feed %s", conv, alice, bob, feed)
			if got != want {
				t.Fatalf("read model:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// The last message is the newest whose standing decision approved it: an
// approval after a hold stands, one after a rejection does not, and a
// rejection after an approval changes nothing; an approval logged before
// its conversation exists moves nothing, whatever the batches. Replays find
// it from the rows they copy, or in one pass once a fresh rebuild's last
// batch is written; the live projector from the rows written: all agree.
func TestLastMessageIsTheNewestWithAStandingApproval(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	decide := func(id, conv string, s events.ModerationStatus) *events.MessageModerated {
		return &events.MessageModerated{MessageID: id, ConversationID: conv, SenderID: "bob", ClientMsgID: id, Status: s}
	}
	in := func(conv string, m *events.MessagePosted) *events.MessagePosted { m.ConversationID = conv; return m }
	members := []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}
	payloads := []events.Payload{
		&events.ConversationCreated{ConversationID: "c1", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: members},
		&events.ConversationCreated{ConversationID: "c2", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: members},
		in("c1", posted("m1", "bob")),             // 3
		decide("m1", "c1", events.StatusPending),  // held
		decide("m1", "c1", events.StatusApproved), // the review's decision stands: c1 last = 3
		in("c1", posted("m2", "bob")),             // 6
		decide("m2", "c1", events.StatusRejected), // stands
		decide("m2", "c1", events.StatusApproved), // does not
		in("c2", posted("m3", "bob")),             // 9
		decide("m3", "c2", events.StatusApproved), // c2 last = 9
		decide("m3", "c2", events.StatusRejected), // does not stand
		in("c2", posted("m4", "bob")),             // 12, never decided
		in("c1", posted("m1", "bob")),             // a repeat: the first posting stays the position
		decide("m1", "c1", events.StatusApproved), // a second approval does not stand
		in("c3", posted("m5", "bob")),             // 15: posted before c3 exists
		decide("m5", "c3", events.StatusApproved), // approved before c3 exists: moves no row
		&events.ConversationCreated{ConversationID: "c3", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: members},
		in("c4", posted("m6", "bob")), // 18: posted before c4 exists
		&events.ConversationCreated{ConversationID: "c4", Kind: events.KindGroup, ReplyPermission: events.ReplyAll, CreatedBy: "alice", Members: members},
		decide("m6", "c4", events.StatusApproved), // approved once c4 exists: c4 last = 18
	}
	evs := make([]*events.Envelope, len(payloads))
	for i, p := range payloads {
		e, err := events.New(fmt.Sprint("e", i+1), "geosector", base.Add(time.Duration(i+1)*time.Second),
			events.Actor{ID: "alice", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = uint64(i + 1)
		evs[i] = e
	}
	for _, run := range batchRuns(len(evs)) {
		t.Run(run.name, func(t *testing.T) {
			pool := applyInBatches(t, evs, run)
			var got string
			err := pool.QueryRow(context.Background(),
				"SELECT string_agg(id || '=' || last_message_seq, ' ' ORDER BY id) FROM conversations").Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			if want := "c1=3 c2=9 c3=0 c4=18"; got != want {
				t.Fatalf("last messages %s, want %s", got, want)
			}
		})
	}
}

// batchRun is one way of applying a log: in batches of size, by the live
// projector or by a replay's (which copies the messages it has not written),
// into a fresh rebuild (fresh: what it defers is done after the last batch)
// or one resumed or catching up.
type batchRun struct {
	name          string
	size          int
	replay, fresh bool
}

func batchRuns(n int) []batchRun {
	var runs []batchRun
	for _, mode := range []string{"live", "replay", "fresh replay"} {
		for _, size := range []int{1, 2, 3, n} {
			runs = append(runs, batchRun{name: fmt.Sprint(mode, ", batches of ", size), size: size,
				replay: mode != "live", fresh: mode == "fresh replay"})
		}
	}
	return runs
}

// applyInBatches applies evs to a fresh read model as run says.
func applyInBatches(t *testing.T, evs []*events.Envelope, run batchRun) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := testkit.Pool(t)
	p := &Projector{Pool: pool}
	if run.fresh {
		if err := deferIndexes(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	if run.replay {
		if err := p.bulk(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p.lastDeferred != run.fresh {
		t.Fatalf("last messages deferred: %v in a run %q", p.lastDeferred, run.name)
	}
	for i := 0; i < len(evs); i += run.size {
		b := evs[i:min(i+run.size, len(evs))]
		if err := p.Apply(ctx, jet.Batch{Events: b, Last: b[len(b)-1].Seq}); err != nil {
			t.Fatal(err)
		}
	}
	if err := buildIndexes(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func posted(id, sender string) *events.MessagePosted {
	return &events.MessagePosted{MessageID: id, ClientMsgID: id, ConversationID: "c1", SenderID: sender, SenderType: events.ActorUser,
		Content: "hi", ContentType: events.ContentText}
}

func showBool(b *bool) any {
	if b == nil {
		return "<nil>"
	}
	return *b
}
