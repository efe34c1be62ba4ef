package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
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
	for _, size := range []int{1, 3, len(evs)} {
		t.Run(fmt.Sprint("batches of ", size), func(t *testing.T) {
			ctx := context.Background()
			pool, err := chatsql.Open(ctx, testkit.Postgres(t), testkit.Schema)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			p := &Projector{Pool: pool}
			for i := 0; i < len(evs); i += size {
				b := evs[i:min(i+size, len(evs))]
				if err := p.Apply(ctx, jet.Batch{Events: b, Last: b[len(b)-1].Seq}); err != nil {
					t.Fatal(err)
				}
			}
			var conv, alice, bob, feed string
			err = pool.QueryRow(ctx, `SELECT id || ' ' || title || ' ' || settings::text || ' ' || reply_permission || ' pinned=' || pinned
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
				*out = fmt.Sprintf("%s %s %v", user, role, deref(can))
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

func posted(id, sender string) *events.MessagePosted {
	return &events.MessagePosted{MessageID: id, ClientMsgID: id, ConversationID: "c1", SenderID: sender, SenderType: events.ActorUser,
		Content: "hi", ContentType: events.ContentText}
}

func deref(b *bool) any {
	if b == nil {
		return "<nil>"
	}
	return *b
}
