package projections

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/testkit"
	"github.com/chatbackend/chat/sql/db"
)

// TestALateDecisionFindsItsRowByKeyOnceMessagesHasGrown: a connection
// that ran the projector's statements while messages was nearly empty has
// cheap generic plans cached for them, a sequential scan among them; once
// the table has grown, a decision written in the batch after its posting
// must still reach its row by key, not by reading the whole table.
func TestALateDecisionFindsItsRowByKeyOnceMessagesHasGrown(t *testing.T) {
	ctx := context.Background()
	pool := testkit.Pool(t)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	message := func(i int) messageRow {
		return messageRow{App: "geosector", ID: fmt.Sprintf("m%06d", i), ConversationID: fmt.Sprintf("c%d", i%50),
			ClientMsgID: fmt.Sprint("k", i), SenderID: "u1", SenderType: "user", Content: "hello", ContentType: "text",
			CreatedAt: at, Seq: int64(i + 1), ModerationStatus: "pending"}
	}
	decide := func(ids ...int) {
		t.Helper()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			q := db.New(tx)
			if _, err := begin(ctx, q); err != nil {
				return err
			}
			var firstErr error
			ds := make([]db.ModerateMessageParams, len(ids))
			for k, i := range ids {
				seq := int64(1_000_000 + i)
				ds[k] = db.ModerateMessageParams{App: "geosector", ID: message(i).ID, ModerationStatus: "approved", ModeratedSeq: &seq, ModeratedAt: &at}
			}
			q.ModerateMessage(ctx, ds).Exec(func(_ int, err error) {
				if err != nil && firstErr == nil {
					firstErr = err
				}
			})
			return firstErr
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seqScans := func() int64 {
		t.Helper()
		// This backend's counts reach the statistics view at the next
		// flush, which this forces; the view is read in a transaction of
		// its own.
		if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := conn.QueryRow(ctx, "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'messages'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Nearly empty and analyzed as such; enough late decisions for the
	// server to settle on a generic plan.
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return copyMessages(ctx, tx, []messageRow{message(0)}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE messages"); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		decide(0)
	}
	// The table grows past what a scan costs nothing for; no analyze
	// runs in between, as none would within a benchmark's run.
	rows := make([]messageRow, 20000)
	for i := range rows {
		rows[i] = message(i + 1)
	}
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return copyMessages(ctx, tx, rows) }); err != nil {
		t.Fatal(err)
	}
	before := seqScans()
	decide(100, 5000, 19999)
	if after := seqScans(); after != before {
		t.Errorf("three late decisions scanned messages whole %d times", after-before)
	}
	var approved int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM messages WHERE moderation_status = 'approved' AND id IN ('m000100', 'm005000', 'm019999')").Scan(&approved); err != nil {
		t.Fatal(err)
	}
	if approved != 3 {
		t.Errorf("%d of the 3 decisions reached their rows", approved)
	}
}
