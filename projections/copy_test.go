package projections

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/testkit"
	"github.com/chatbackend/chat/sql/db"
)

// TestCopiedMessagesEqualInsertedOnes writes the same messages through the
// replay's binary COPY and through the live projector's insert, then
// compares the rows column by column.
func TestCopiedMessagesEqualInsertedOnes(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	str := func(s string) *string { return &s }
	seq := func(v int64) *int64 { return &v }
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	before2000 := time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	rows := []messageRow{
		{App: "geosector", ID: "m1", ConversationID: "c1", ClientMsgID: "k1", SenderID: "u1", SenderType: "user",
			Content: "héllo, wörld ✓", ContentType: "text", CreatedAt: at, Seq: 7, ModerationStatus: "pending"},
		{App: "geosector", ID: "m2", ConversationID: "c1", ClientMsgID: "k2", SenderID: "anon-1", SenderType: "anonymous",
			Content: "", ContentType: "file", AttachmentID: str("f1"), ReplyTo: str("m1"), CreatedAt: before2000, Seq: 1 << 40,
			ModerationStatus: "rejected", ModerationReason: str("bad_words"), ModeratedSeq: seq(1<<40 + 1), ModeratedAt: &at},
	}
	copied := make([]messageRow, len(rows))
	for i, r := range rows {
		r.App = "copied"
		copied[i] = r
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := copyMessages(ctx, tx, copied); err != nil {
			return err
		}
		_, err := insertMessages(ctx, db.New(tx), rows)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var differing []string
	err = pool.QueryRow(ctx, `SELECT coalesce(array_agg(i.id ORDER BY i.id), '{}') FROM messages i
		FULL JOIN messages c ON c.app = 'copied' AND c.id = i.id
		WHERE i.app = 'geosector' AND (c.id IS NULL OR (to_jsonb(i) - 'app') IS DISTINCT FROM (to_jsonb(c) - 'app'))`).Scan(&differing)
	if err != nil {
		t.Fatal(err)
	}
	if len(differing) > 0 {
		t.Fatalf("copied rows differ from inserted ones: %v", differing)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE app = 'copied'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(rows) {
		t.Fatalf("%d rows copied, want %d", n, len(rows))
	}
}

// TestCopiedMembershipsAndNotificationsEqualInsertedOnes does the same for
// the other rows a replay copies.
func TestCopiedMembershipsAndNotificationsEqualInsertedOnes(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	memberships := func(app string) db.InsertMembershipsParams {
		return db.InsertMembershipsParams{App: []string{app, app}, ConversationID: []string{"c1", "c2"}, UserID: []string{"u1", "u2"},
			FromSeq: []int64{3, 4}, ToSeq: []int64{0, 9}, Role: []string{"admin", "member"}}
	}
	notes := func(app string) db.AddNotificationsParams {
		return db.AddNotificationsParams{App: []string{app, app}, UserID: []string{"u1", "u2"}, Seq: []int64{3, 4},
			At: []time.Time{at, at.Add(time.Microsecond)}, Data: [][]byte{[]byte(`{"type":"added","conversationId":"c1","by":"ü"}`), []byte(`{}`)}}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := copyMemberships(ctx, tx, memberships("copied")); err != nil {
			return err
		}
		if err := q.InsertMemberships(ctx, memberships("geosector")); err != nil {
			return err
		}
		if err := copyNotifications(ctx, tx, notes("copied")); err != nil {
			return err
		}
		return q.AddNotifications(ctx, notes("geosector"))
	})
	if err != nil {
		t.Fatal(err)
	}
	for table, key := range map[string]string{"memberships": "conversation_id, user_id, from_seq", "user_feed": "user_id, seq"} {
		var copied, inserted string
		err := pool.QueryRow(ctx, `SELECT coalesce(string_agg((to_jsonb(t) - 'app')::text, ';' ORDER BY `+key+`) FILTER (WHERE app = 'copied'), ''),
			coalesce(string_agg((to_jsonb(t) - 'app')::text, ';' ORDER BY `+key+`) FILTER (WHERE app = 'geosector'), '') FROM `+table+` t`).Scan(&copied, &inserted)
		if err != nil {
			t.Fatal(err)
		}
		if copied != inserted || copied == "" {
			t.Errorf("%s: copied rows\n%s\ninserted rows\n%s", table, copied, inserted)
		}
	}
}
