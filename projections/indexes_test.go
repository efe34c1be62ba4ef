package projections

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/testkit"
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
	for _, d := range f.indexes(t, target) {
		if slices.ContainsFunc(deferredIndexes, func(name string) bool { return strings.HasPrefix(d, name+":") }) {
			t.Fatalf("the interrupted rebuild already has %s", d)
		}
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
