package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/sql/db"
)

// pipeline applies a replay's batches as Apply does, but folds each batch
// while PostgreSQL still writes the one before, so neither waits for the
// other. Only the folding runs ahead: each batch is written, with its
// checkpoint, in its own transaction, in log order, one at a time.
//
// A fold assumes the batch before it commits. When it does not (PostgreSQL
// refuses an event, or an effect panics), the pipeline drains: the failed
// batch goes through applyOrPark's event-by-event path, the fold made ahead
// of it is thrown away, and the next batch is applied by Apply from the
// committed state. So the pipeline parks the same events and writes the
// same rows as applyOrPark batch after batch.
type pipeline struct {
	p    *Projector
	park *jet.Parker
	// at is the position the batches handed over leave the read model at,
	// once written; -1 until the first batch loads the state.
	at int64
	// inflight is the batch being written, if any.
	inflight *inflight
	// applied is called, in log order, with each batch once it committed,
	// and how long its writing took.
	applied func(b jet.Batch, writing time.Duration)
}

// inflight is a batch being written by its own goroutine.
type inflight struct {
	b    jet.Batch
	segs []*changes
	took time.Duration // set before done is sent
	done chan error
}

// errCheckpointMoved says the read model moved under the pipeline: another
// writer applied events to the schema being rebuilt.
var errCheckpointMoved = errors.New("the checkpoint moved under the replay")

func newPipeline(p *Projector, park *jet.Parker, applied func(jet.Batch, time.Duration)) *pipeline {
	return &pipeline{p: p, park: park, at: -1, applied: applied}
}

// add folds b, waits for the batch before it to commit, then starts
// writing b. When the state b was folded on did not commit, b is applied
// on its own instead.
func (pl *pipeline) add(ctx context.Context, b jet.Batch) error {
	if pl.at < 0 || pl.p.roster == nil {
		if err := pl.drain(ctx); err != nil {
			return err
		}
		if err := pl.load(ctx); err != nil {
			return err
		}
	}
	if b.Last <= uint64(pl.at) {
		return nil // applied before: Apply would skip it too
	}
	var pending []*changes
	if pl.inflight != nil {
		pending = pl.inflight.segs
	}
	segs, foldErr := pl.p.fold(b, uint64(pl.at), pending)
	stale, err := pl.settle(ctx)
	if err != nil {
		return err
	}
	if stale || foldErr != nil {
		// Folded on a state that did not commit, or an effect panicked:
		// the roster holds part of it. Apply reloads it and, if b is
		// poison, parks what it must.
		pl.p.roster = nil
		t := time.Now()
		if err := pl.p.applyOrPark(ctx, b, pl.park); err != nil {
			pl.at = -1
			return err
		}
		pl.at = int64(b.Last)
		pl.applied(b, time.Since(t))
		return nil
	}
	w := &inflight{b: b, segs: segs, done: make(chan error, 1)}
	after := uint64(pl.at)
	go func() {
		t := time.Now()
		err := pl.write(ctx, after, w)
		w.took = time.Since(t)
		w.done <- err
	}()
	pl.inflight, pl.at = w, int64(b.Last)
	return nil
}

// load reads the checkpoint and the roster at it.
func (pl *pipeline) load(ctx context.Context) error {
	return pgx.BeginFunc(ctx, pl.p.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		cp, err := begin(ctx, q)
		if err != nil {
			return err
		}
		if pl.p.roster, err = loadRoster(ctx, q); err != nil {
			return err
		}
		pl.at = int64(cp)
		return nil
	})
}

// write writes w's folded batch and its checkpoint in one transaction, the
// checkpoint found being the one w was folded after.
func (pl *pipeline) write(ctx context.Context, after uint64, w *inflight) error {
	return pgx.BeginFunc(ctx, pl.p.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		cp, err := begin(ctx, q)
		if err != nil {
			return err
		}
		if cp != after {
			return fmt.Errorf("batch up to %d, folded after %d, finds the checkpoint at %d: %w", w.b.Last, after, cp, errCheckpointMoved)
		}
		return pl.p.writeBatch(ctx, tx, w.segs, w.b.Last)
	})
}

// settle waits for the batch in flight. It reports stale when that batch
// did not commit as folded: then it has been applied by applyOrPark's
// event-by-event path, and anything folded after it is void.
func (pl *pipeline) settle(ctx context.Context) (stale bool, err error) {
	w := pl.inflight
	if w == nil {
		return false, nil
	}
	pl.inflight = nil
	err = <-w.done
	if err == nil {
		pl.p.committed(w.segs)
		pl.applied(w.b, w.took)
		return false, nil
	}
	pl.p.roster = nil
	if !poison(err) {
		pl.at = -1
		return true, err
	}
	t := time.Now()
	if err := pl.p.applyEach(ctx, w.b, pl.park, err); err != nil {
		pl.at = -1
		return true, err
	}
	pl.applied(w.b, w.took+time.Since(t))
	return true, nil
}

// drain waits for the batch in flight, leaving the pipeline empty: called
// once the last batch is added, and before giving up on an error.
func (pl *pipeline) drain(ctx context.Context) error {
	_, err := pl.settle(ctx)
	return err
}
