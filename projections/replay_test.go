package projections

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
)

type fixture struct {
	js   jetstream.JetStream
	url  string
	live *pgxpool.Pool
	conn *pgx.Conn
}

func newFixture(t *testing.T, events int) *fixture {
	t.Helper()
	f := &fixture{js: testkit.NATS(t, jet.StreamOptions{}), url: testkit.Postgres(t)}
	var err error
	if f.live, err = chatsql.Open(context.Background(), f.url, testkit.Schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.live.Close)
	if f.conn, err = pgx.Connect(context.Background(), f.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.conn.Close(context.Background()) })
	history(t, f.js, events)
	f.project(t)
	return f
}

// project runs the live projector, with small batches, up to the log's end.
func (f *fixture) project(t *testing.T) {
	t.Helper()
	mark := NewWatermark(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := &Projector{Pool: f.live, JS: f.js, Log: testkit.Logger(t), MaxBatch: 37, Watermark: mark}
		_ = p.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	if last := lastSeq(t, f.js); !mark.Wait(wctx, last) {
		t.Fatalf("live projector stopped at %d of %d", mark.Position(), last)
	}
}

func (f *fixture) digest(t *testing.T, schema string) map[string]string {
	t.Helper()
	d, err := Digest(context.Background(), f.conn, schema)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) replay(r Replay) *Replay {
	r.DatabaseURL, r.JS, r.Live = f.url, f.js, testkit.Schema
	if r.Log == nil {
		r.Log = slogDiscard
	}
	return &r
}

func TestHistoryExercisesEveryEventType(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	history(t, js, 500)
	seen := map[events.Type]bool{}
	err := jet.Read(context.Background(), js, jet.ReadOptions{Until: lastSeq(t, js), Park: jet.NewParker(js, "test", slogDiscard)},
		func(_ context.Context, b jet.Batch) error {
			for _, e := range b.Events {
				seen[e.Type] = true
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range events.Types {
		if !seen[typ] {
			t.Errorf("the generated history has no %s", typ)
		}
	}
}

func TestReplayRebuildsTheSameModelAndSwaps(t *testing.T) {
	f := newFixture(t, 4000)
	before := f.digest(t, testkit.Schema)
	sum, err := f.replay(Replay{Verify: true, Swap: true, Batch: 500}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Differences) > 0 {
		t.Fatalf("rebuilt model differs from the live one:\n%v", sum.Differences)
	}
	if sum.Applied == 0 || sum.SwappedOut == "" {
		t.Fatalf("summary: %+v", sum)
	}
	if after := f.digest(t, testkit.Schema); !equalDigests(before, after) {
		t.Fatalf("live model after the swap differs:\n%v", DigestDiff(before, after))
	}
	if old := f.digest(t, sum.SwappedOut); !equalDigests(before, old) {
		t.Fatal("the previous live model was changed by the swap")
	}

	// The live projector goes on in the swapped-in schema.
	history2(t, f.js)
	f.project(t)
	cp, err := liveCheckpoint(context.Background(), f.conn, testkit.Schema)
	if err != nil || cp != lastSeq(t, f.js) {
		t.Fatalf("after the swap the live projector stands at %d (%v), want %d", cp, err, lastSeq(t, f.js))
	}
}

// The live projector applied the log in batches of its own; a replay in
// batches of any size folds events differently and must write the same rows
// (members leaving and rejoining, with receipts in between, within a batch).
func TestReplayBuildsTheLiveModelWhateverItsBatchSize(t *testing.T) {
	f := newFixture(t, 1500)
	live := f.digest(t, testkit.Schema)
	for _, table := range []string{"groups", "group_members", "group_conversations", "group_memberships", "group_feed",
		"user_settings", "user_feed", "notification_marks"} {
		if strings.HasSuffix(live[table], " (0 rows)") {
			t.Fatalf("the history leaves %s empty: the replay proves nothing of it", table)
		}
	}
	for _, batch := range []int{13, 200, 1000} {
		sum, err := f.replay(Replay{Target: "chat_batch_" + itoa(uint64(batch)), Until: lastSeq(t, f.js), Batch: batch}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := DigestDiff(live, f.digest(t, sum.Target)); len(diff) > 0 {
			t.Errorf("replayed in batches of %d: %v", batch, diff)
		}
	}
}

func TestReplayDropsThePreviousModelOnRequest(t *testing.T) {
	f := newFixture(t, 300)
	sum, err := f.replay(Replay{Swap: true, DropOld: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", sum.SwappedOut).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s still exists (%v)", sum.SwappedOut, err)
	}
}

// Two replays swapped within the same second each keep their old model: the
// names this second and the next already exist, and the swap goes on.
func TestReplaySwapsAgainWithinTheSameSecond(t *testing.T) {
	f := newFixture(t, 300)
	now := time.Now().UTC()
	var taken []string
	for _, at := range []time.Time{now, now.Add(time.Second)} {
		name := testkit.Schema + "_old_" + at.Format("20060102_150405")
		if _, err := f.conn.Exec(context.Background(), "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		taken = append(taken, name)
	}
	sum, err := f.replay(Replay{Swap: true}).Run(context.Background())
	if err != nil {
		t.Fatalf("second swap in a second: %v", err)
	}
	if sum.SwappedOut == "" || slices.Contains(taken, sum.SwappedOut) {
		t.Fatalf("swapped out into %q, taken: %v", sum.SwappedOut, taken)
	}
}

func TestInterruptedReplayResumesWithoutTouchingTheLiveModel(t *testing.T) {
	f := newFixture(t, 4000)
	before := f.digest(t, testkit.Schema)
	last := lastSeq(t, f.js)

	// Interrupt once the rebuild has committed part of the log.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		testkit.Eventually(t, 60*time.Second, "the rebuild to get half-way", func() bool {
			cp, _ := liveCheckpoint(context.Background(), f.conn, testkit.Schema+"_rebuild")
			return cp >= last/2
		})
	}()
	sum, err := f.replay(Replay{Swap: true, Batch: 50}).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted replay returned %v", err)
	}
	if sum.Position == 0 || sum.Position >= last {
		t.Fatalf("interrupted at %d of %d", sum.Position, last)
	}
	if now := f.digest(t, testkit.Schema); !equalDigests(before, now) {
		t.Fatal("an interrupted replay changed the live model")
	}

	sum2, err := f.replay(Replay{Swap: true, Verify: true, Batch: 500}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Applied >= int(last) || sum2.Applied == 0 {
		t.Fatalf("resumed replay applied %d events of %d: it did not resume", sum2.Applied, last)
	}
	if len(sum2.Differences) > 0 {
		t.Fatalf("resumed model differs: %v", sum2.Differences)
	}
}

func TestReplayUntilSeqBuildsThePast(t *testing.T) {
	f := newFixture(t, 500)
	asOf := lastSeq(t, f.js)
	joined, err := events.New("late-join", "geosector", time.Now(), events.Actor{ID: "alice", Type: events.ActorUser},
		&events.MemberJoined{ConversationID: "c1", UserID: "zoe", Role: events.RoleMember, AddedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jet.NewAppender(f.js).Append(context.Background(), joined); err != nil {
		t.Fatal(err)
	}
	f.project(t)
	liveBefore := f.digest(t, testkit.Schema)

	sum, err := f.replay(Replay{Until: asOf}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Target != "chat_at_"+itoa(asOf) || sum.Position != asOf {
		t.Fatalf("summary: %+v", sum)
	}
	count := func(schema string) int {
		var n int
		q := "SELECT count(*) FROM " + pgx.Identifier{schema, "participants"}.Sanitize() + " WHERE user_id = 'zoe'"
		if err := f.conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(sum.Target) != 0 {
		t.Fatal("a member who joined after the position is in the model of that position")
	}
	if count(testkit.Schema) != 1 {
		t.Fatal("the live model lacks the late member")
	}
	if now := f.digest(t, testkit.Schema); !equalDigests(liveBefore, now) {
		t.Fatal("--until-seq changed the live model")
	}
	if _, err := f.replay(Replay{Until: asOf, Swap: true}).Run(context.Background()); err == nil {
		t.Fatal("swapping in a model of the past was allowed")
	}
}

func TestDigestCoversEveryTable(t *testing.T) {
	f := newFixture(t, 10)
	rows, err := f.conn.Query(context.Background(),
		"SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND NOT table_name = ANY($2)", testkit.Schema, Transient)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !slices.ContainsFunc(Tables, func(tb struct{ Name, Order string }) bool { return tb.Name == n }) {
			t.Errorf("table %s is not in projections.Tables: replay --verify would not compare it", n)
		}
	}
}

func equalDigests(a, b map[string]string) bool { return len(DigestDiff(a, b)) == 0 }
