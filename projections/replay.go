package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/progress"
	chatsql "github.com/chatbackend/chat/sql"
	"github.com/chatbackend/chat/sql/db"
)

// Replay rebuilds the read model from the log into a schema of its own while
// the live one keeps serving, then (for a full rebuild) swaps the two in one
// transaction. It applies events with the live projector's code. Interrupted,
// it resumes from the rebuilt schema's own checkpoint.
type Replay struct {
	DatabaseURL string
	JS          jetstream.JetStream
	Log         *slog.Logger
	Live        string // live schema, e.g. "chat"
	Target      string // schema to build; default <live>_rebuild, or <live>_at_<N> with Until
	Until       uint64 // build the model as of this position; 0 = the live position, then swap
	Fresh       bool   // discard a previous unfinished rebuild instead of resuming it
	Swap        bool   // make the rebuilt model live (full rebuilds only)
	DropOld     bool   // after the swap, drop the previous live schema
	Verify      bool   // compare table digests of the live and rebuilt models
	Batch       int
	Progress    io.Writer // where progress lines go; nil for none
	// Apps bound the audiences recorded for sync: chatd's configuration.
	Apps config.Apps
}

// ReplaySummary is what a replay did.
type ReplaySummary struct {
	Target        string
	Position      uint64
	Applied       int
	Elapsed       time.Duration // the whole run
	Applying      time.Duration // reading and applying events, then building the deferred indexes: the part that grows with the log
	Writing       time.Duration // of which PostgreSQL transactions (the next batch folds meanwhile)
	Indexing      time.Duration // of which building the indexes deferred for the bulk load (indexes.go)
	LiveDigest    map[string]string
	RebuiltDigest map[string]string
	Differences   []string
	SwappedOut    string // the previous live schema's new name, after a swap
}

// DefaultReplayBatch is a replay's events per transaction unless told
// otherwise. Per batch, every conversation it approves a message of has its
// row updated once and each table gets its statement: on the benchmark's
// log, batches of 20,000 rebuilt about 10% faster than batches of 5,000.
const DefaultReplayBatch = 20000

// replayAhead is how many batches a replay reads and decodes ahead of the
// one it folds. Batches differ: one full of conversations created writes
// several rows per member and keeps PostgreSQL busy for a second while the
// next one folds in a tenth of that. Reading on meanwhile uses the core the
// fold leaves idle: on the benchmark's log, 8 batches ahead rather than 2
// rebuilt about 3% faster (a median of 103,000 events/s against 100,000
// over four runs each).
const replayAhead = 8

// Run performs the replay.
func (r *Replay) Run(ctx context.Context) (*ReplaySummary, error) {
	if r.Batch <= 0 {
		r.Batch = DefaultReplayBatch
	}
	if r.Target == "" {
		r.Target = r.Live + "_rebuild"
		if r.Until > 0 {
			r.Target = fmt.Sprintf("%s_at_%d", r.Live, r.Until)
		}
	}
	if r.Target == r.Live {
		return nil, errors.New("replay: the target schema must differ from the live one")
	}
	if r.Until > 0 && (r.Swap || r.Verify) {
		return nil, errors.New("replay: --until-seq builds a model of the past; it cannot be swapped in or verified against the live one")
	}
	admin, err := pgx.Connect(ctx, r.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if r.Fresh {
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{r.Target}.Sanitize()+" CASCADE"); err != nil {
			return nil, fmt.Errorf("drop %s: %w", r.Target, err)
		}
	}
	pool, err := chatsql.Open(ctx, r.DatabaseURL, r.Target)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	sum := &ReplaySummary{Target: r.Target}
	start := time.Now()
	until := r.Until
	if until == 0 {
		if until, err = liveCheckpoint(ctx, admin, r.Live); err != nil {
			return nil, err
		}
	}
	if err := deferIndexes(ctx, pool); err != nil {
		return sum, err
	}
	if err := r.apply(ctx, pool, until, sum); err != nil {
		return sum, err
	}
	t := time.Now()
	err = buildIndexes(ctx, pool)
	sum.Indexing = time.Since(t)
	sum.Applying += sum.Indexing
	if err != nil {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		return sum, err
	}
	if r.Until == 0 {
		if err := r.finish(ctx, admin, pool, sum); err != nil {
			return sum, err
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// apply brings the target schema up to position until.
func (r *Replay) apply(ctx context.Context, pool *pgxpool.Pool, until uint64, sum *ReplaySummary) error {
	from, err := Checkpoint(ctx, db.New(pool))
	if err != nil {
		return err
	}
	sum.Position = from
	if from >= until {
		return nil
	}
	p := &Projector{Pool: pool, JS: r.JS, Log: r.Log, Apps: r.Apps}
	if err := p.bulk(ctx); err != nil {
		return err
	}
	prog := progress.New(r.Progress, "replay", "events", from, until)
	start := time.Now()
	defer func() { sum.Applying += time.Since(start) }()
	park := jet.NewParker(r.JS, Name, r.Log)
	pl := newPipeline(p, park, func(b jet.Batch, writing time.Duration) {
		sum.Writing += writing
		sum.Applied += len(b.Events)
		sum.Position = b.Last
		prog.Update(b.Last)
	})
	err = jet.Read(ctx, r.JS, jet.ReadOptions{From: from + 1, Until: until, Max: r.Batch, Park: park, Ahead: replayAhead}, pl.add)
	if derr := pl.drain(ctx); err == nil {
		err = derr
	}
	prog.Done()
	if err != nil && ctx.Err() != nil {
		// Interrupted: whatever the driver reported (a COPY cut off says
		// "conn closed"), the cause is the cancellation, and the run resumes.
		return ctx.Err()
	}
	return err
}

// finish catches up with the live projector while holding its lock, so both
// models stand at the same position, then verifies and swaps in one
// transaction. The live projector waits meanwhile; queries keep being served.
func (r *Replay) finish(ctx context.Context, admin *pgx.Conn, pool *pgxpool.Pool, sum *ReplaySummary) error {
	for {
		tx, err := admin.Begin(ctx)
		if err != nil {
			return err
		}
		done, err := r.swapIfCaughtUp(ctx, tx, sum)
		if err != nil || !done {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			live, err := liveCheckpoint(ctx, admin, r.Live)
			if err != nil {
				return err
			}
			if err := r.apply(ctx, pool, live, sum); err != nil {
				return err
			}
			continue
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
		if r.DropOld && sum.SwappedOut != "" {
			if _, err := admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{sum.SwappedOut}.Sanitize()+" CASCADE"); err != nil {
				return fmt.Errorf("drop %s: %w", sum.SwappedOut, err)
			}
		}
		return nil
	}
}

// swapIfCaughtUp reports false when the live model moved past the rebuilt one.
func (r *Replay) swapIfCaughtUp(ctx context.Context, tx pgx.Tx, sum *ReplaySummary) (bool, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('chat-projector:' || $1::text))", r.Live); err != nil {
		return false, fmt.Errorf("pause live projector: %w", err)
	}
	live, err := liveCheckpoint(ctx, tx.Conn(), r.Live)
	if err != nil {
		return false, err
	}
	if live > sum.Position {
		return false, nil
	}
	if r.Verify {
		if sum.LiveDigest, err = Digest(ctx, tx.Conn(), r.Live); err != nil {
			return false, err
		}
		if sum.RebuiltDigest, err = Digest(ctx, tx.Conn(), r.Target); err != nil {
			return false, err
		}
		sum.Differences = DigestDiff(sum.LiveDigest, sum.RebuiltDigest)
	}
	if !r.Swap || len(sum.Differences) > 0 {
		return true, nil
	}
	old, err := freeSchemaName(ctx, tx, fmt.Sprintf("%s_old_%s", r.Live, time.Now().UTC().Format("20060102_150405")))
	if err != nil {
		return false, err
	}
	for _, q := range []string{
		"ALTER SCHEMA " + pgx.Identifier{r.Live}.Sanitize() + " RENAME TO " + pgx.Identifier{old}.Sanitize(),
		"ALTER SCHEMA " + pgx.Identifier{r.Target}.Sanitize() + " RENAME TO " + pgx.Identifier{r.Live}.Sanitize(),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return false, fmt.Errorf("swap: %w", err)
		}
	}
	sum.SwappedOut = old
	return true, nil
}

// freeSchemaName is name, or name_2, name_3… the first no schema has yet:
// two replays swapped within the same second keep both old models.
func freeSchemaName(ctx context.Context, tx pgx.Tx, name string) (string, error) {
	for i := 1; ; i++ {
		candidate := name
		if i > 1 {
			candidate = fmt.Sprintf("%s_%d", name, i)
		}
		var taken bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", candidate).Scan(&taken); err != nil {
			return "", fmt.Errorf("swap: %w", err)
		}
		if !taken {
			return candidate, nil
		}
	}
}

// liveCheckpoint reads the projector's position in schema (0 if none).
func liveCheckpoint(ctx context.Context, conn *pgx.Conn, schema string) (uint64, error) {
	var pos int64
	err := conn.QueryRow(ctx, "SELECT position FROM "+pgx.Identifier{schema, "projection_checkpoints"}.Sanitize()+
		" WHERE name = $1", Name).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s checkpoint: %w", schema, err)
	}
	return uint64(pos), nil
}
