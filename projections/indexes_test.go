package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
)

// indexes lists schema's indexes as name: definition, the schema's name
// left out so two schemas compare.
func (f *fixture) indexes(t *testing.T, schema string) []string {
	t.Helper()
	rows, err := f.conn.Query(context.Background(), "SELECT indexname || ': ' || replace(indexdef, ' ON '||schemaname||'.', ' ON ') "+
		"FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname", schema)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

func (f *fixture) hasPendingIndexes(t *testing.T, schema string) bool {
	t.Helper()
	var exists bool
	if err := f.conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL",
		pgx.Identifier{schema, pendingIndexes}.Sanitize()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestDeferredIndexesAreIndexesOfTheSchema(t *testing.T) {
	f := newFixture(t, 10)
	defs := f.indexes(t, testkit.Schema)
	for _, name := range deferredIndexes {
		if !slices.ContainsFunc(defs, func(d string) bool { return strings.HasPrefix(d, name+":") }) {
			t.Errorf("deferred index %s is not an index of the read model", name)
		}
	}
}

func TestSwappedInModelHasEveryIndexOfTheLiveOne(t *testing.T) {
	f := newFixture(t, 1000)
	want := f.indexes(t, testkit.Schema)
	sum, err := f.replay(Replay{Swap: true, Verify: true, Batch: 200}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Differences) > 0 {
		t.Fatalf("rebuilt model differs: %v", sum.Differences)
	}
	if got := f.indexes(t, testkit.Schema); !slices.Equal(got, want) {
		t.Fatalf("indexes after the swap:\n%v\nbefore:\n%v", got, want)
	}
	if f.hasPendingIndexes(t, testkit.Schema) {
		t.Fatal("the swapped-in model still lists indexes to build")
	}
}

func TestModelOfThePastHasEveryIndex(t *testing.T) {
	f := newFixture(t, 300)
	want := f.indexes(t, testkit.Schema)
	sum, err := f.replay(Replay{Until: lastSeq(t, f.js) / 2}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.indexes(t, sum.Target); !slices.Equal(got, want) {
		t.Fatalf("indexes of %s:\n%v\nwant:\n%v", sum.Target, got, want)
	}
}

// A replay interrupted during the bulk load has not built the deferred
// indexes yet; run again, it resumes and builds them before the swap.
func TestInterruptedReplayBuildsTheDeferredIndexesWhenItResumes(t *testing.T) {
	f := newFixture(t, 3000)
	want := f.indexes(t, testkit.Schema)
	last := lastSeq(t, f.js)
	target := testkit.Schema + "_rebuild"

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		testkit.Eventually(t, 60*time.Second, "the rebuild to get half-way", func() bool {
			cp, _ := liveCheckpoint(context.Background(), f.conn, target)
			return cp >= last/2
		})
	}()
	sum, err := f.replay(Replay{Swap: true, Batch: 50}).Run(ctx)
	if !errors.Is(err, context.Canceled) || sum.Position >= last {
		t.Fatalf("interrupted replay returned %v at %d of %d", err, sum.Position, last)
	}
	if !f.hasPendingIndexes(t, target) {
		t.Fatal("the interrupted rebuild lists no index to build")
	}
	// Each deferred index is either still to build or built (as
	// messages_by_conversation is at the first conversion), never both.
	rows, err := f.conn.Query(context.Background(), "SELECT name FROM "+pgx.Identifier{target, pendingIndexes}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	pending, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	built := f.indexes(t, target)
	for _, name := range deferredIndexes {
		has := slices.ContainsFunc(built, func(d string) bool { return strings.HasPrefix(d, name+":") })
		if has == slices.Contains(pending, name) {
			t.Fatalf("the interrupted rebuild has %s: %v, and lists it to build: %v", name, has, !has)
		}
	}
	if !slices.Contains(pending, deferredIndexes[0]) {
		t.Fatalf("the interrupted rebuild lists %v to build, not %s: the test proves nothing", pending, deferredIndexes[0])
	}

	sum, err = f.replay(Replay{Swap: true, Verify: true, Batch: 500}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Differences) > 0 || sum.SwappedOut == "" {
		t.Fatalf("resumed replay: %+v", sum)
	}
	if got := f.indexes(t, testkit.Schema); !slices.Equal(got, want) {
		t.Fatalf("indexes after the resumed replay's swap:\n%v\nwant:\n%v", got, want)
	}
	if f.hasPendingIndexes(t, testkit.Schema) {
		t.Fatal("the swapped-in model still lists indexes to build")
	}
}

// A rebuild leaves messages_by_conversation out until its first conversion
// of a visitor, which finds the visitor's messages by it (without it, each
// conversion would read every message): the conversion's batch builds it,
// and the rebuilt model is the live one.
func TestRebuildBuildsTheConversationIndexAtItsFirstConversion(t *testing.T) {
	f := newFixture(t, 1500)
	ctx := context.Background()
	target := testkit.Schema + "_conversions"
	pool, err := chatsql.Open(ctx, f.url, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := deferIndexes(ctx, pool); err != nil {
		t.Fatal(err)
	}
	p := &Projector{Pool: pool, JS: f.js, Log: slogDiscard}
	if err := p.bulk(ctx); err != nil {
		t.Fatal(err)
	}
	indexed := func() bool {
		var ok bool
		if err := f.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL",
			pgx.Identifier{target, "messages_by_conversation"}.Sanitize()).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	converted := false
	err = jet.Read(ctx, f.js, jet.ReadOptions{Until: lastSeq(t, f.js), Max: 100, Park: jet.NewParker(f.js, Name, slogDiscard)},
		func(ctx context.Context, b jet.Batch) error {
			if err := p.Apply(ctx, b); err != nil {
				return err
			}
			for _, e := range b.Events {
				converted = converted || e.Type == events.TypeAnonymousConverted
			}
			if indexed() != converted {
				return fmt.Errorf("after the batch up to %d: messages_by_conversation built %v, a visitor converted %v", b.Last, indexed(), converted)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !converted {
		t.Fatal("the history converts no visitor: the test proves nothing")
	}
	if err := buildIndexes(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if diff := DigestDiff(f.digest(t, testkit.Schema), f.digest(t, target)); len(diff) > 0 {
		t.Fatalf("rebuilt model differs from the live one: %v", diff)
	}
	if got, want := f.indexes(t, target), f.indexes(t, testkit.Schema); !slices.Equal(got, want) {
		t.Fatalf("indexes of the rebuild:\n%v\nwant:\n%v", got, want)
	}
}
