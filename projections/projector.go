// Package projections turns the log into the Postgres read model. One
// implementation of each event's effect (changes.go) serves the live projector
// and replays alike.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/roster"
	"github.com/chatbackend/chat/sql/db"
)

// Name is the projector's checkpoint name. Like a durable consumer's name it
// is its position: renaming it rebuilds the read model from the start.
const Name = "projector-postgres"

// Projector applies the log to the read model in batches, each in one
// transaction together with its checkpoint, so a crash at any point neither
// loses nor repeats a row (DESIGN invariant 3).
type Projector struct {
	Pool     *pgxpool.Pool
	JS       jetstream.JetStream
	Log      *slog.Logger
	MaxBatch int
	// Linger is how long a batch waits for more events (default 20ms): under
	// load it turns many small transactions into a few large ones, and a
	// message's posting and decision mostly land in the same one (one row
	// written instead of a row and an update).
	Linger time.Duration
	// Apps bound the audiences recorded for sync, as fan-out's (nil: the
	// built-in applications).
	Apps config.Apps
	// Watermark, when set, advances after every commit.
	Watermark *Watermark
	// beforeCommit runs inside each transaction just before it commits; tests
	// use it to stop the projector half-way through a batch.
	beforeCommit func(last uint64) error
	// effects, when set, replaces each event type's effect (tests make one
	// panic); nil is the read model's own.
	effects *events.Router[*changes]
	// known is set in replays: the keys of every message written, so new
	// messages are copied straight into the table (see copyMessages).
	known *knownMessages
	// lastDeferred is set in fresh rebuilds, which fill last messages at
	// the end (see conversationChanges.lastDeferred).
	lastDeferred bool
	// roster is the membership at the checkpoint, loaded from the read model
	// by the first transaction and folded as batches apply; dropped when a
	// transaction fails, so the next one loads it again.
	roster *roster.Roster
}

// bulk switches the projector to replay mode: it learns the messages the
// schema holds and from then on copies new ones without conflict handling.
func (p *Projector) bulk(ctx context.Context) error {
	keys, err := db.New(p.Pool).MessageKeys(ctx)
	if err != nil {
		return fmt.Errorf("read message keys: %w", err)
	}
	p.known = newKnownMessages(len(keys))
	for _, k := range keys {
		p.known.add(p.known.key(msgKey{k.App, k.ID}))
	}
	p.lastDeferred, err = lastMessagesDeferred(ctx, p.Pool)
	return err
}

// Checkpoint reads the last applied position.
func Checkpoint(ctx context.Context, q *db.Queries) (uint64, error) {
	pos, err := q.GetCheckpoint(ctx, Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint: %w", err)
	}
	return uint64(pos), nil
}

// Run applies the log from the checkpoint on until ctx ends.
func (p *Projector) Run(ctx context.Context) error {
	if p.MaxBatch <= 0 {
		p.MaxBatch = 1000
	}
	from, err := Checkpoint(ctx, db.New(p.Pool))
	if err != nil {
		return err
	}
	if p.Watermark != nil {
		p.Watermark.Advance(from)
	}
	p.Log.Info("projector live", "position", from)
	park := jet.NewParker(p.JS, Name, p.Log)
	if p.Linger == 0 {
		p.Linger = 20 * time.Millisecond
	}
	return jet.Read(ctx, p.JS, jet.ReadOptions{From: from + 1, Max: p.MaxBatch, Linger: p.Linger, Park: park},
		func(ctx context.Context, b jet.Batch) error { return p.applyWithRetry(ctx, b, park) })
}

// applyWithRetry retries a failed batch with backoff: the database being away
// is the usual cause, and skipping would break the read model. Events the
// database refuses, or whose effect panics, are parked, not retried
// (applyOrPark).
func (p *Projector) applyWithRetry(ctx context.Context, b jet.Batch, park *jet.Parker) error {
	retry := jet.Backoff{Name: Name, Log: p.Log}
	err := retry.Retry(ctx, "projection", func() error { return p.applyOrPark(ctx, b, park) }, "last", b.Last)
	if err != nil {
		return err
	}
	jet.Progress(Name, b)
	if p.Watermark != nil {
		p.Watermark.Advance(b.Last)
	}
	return nil
}

// Apply writes one batch and its checkpoint in one transaction. Events at or
// before the stored checkpoint are skipped, so applying a batch twice is safe.
func (p *Projector) Apply(ctx context.Context, b jet.Batch) error {
	var segs []*changes
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		cp, err := begin(ctx, q)
		if err != nil {
			return err
		}
		if b.Last <= cp {
			return nil
		}
		if p.roster == nil {
			if p.roster, err = loadRoster(ctx, q); err != nil {
				return err
			}
		}
		if segs, err = p.fold(b, cp, nil); err != nil {
			return err
		}
		return p.writeBatch(ctx, tx, segs, b.Last)
	})
	if err != nil {
		p.roster = nil // it may hold a part of the batch that did not commit
		return err
	}
	p.committed(segs)
	return nil
}

// begin starts a projector transaction: commits need not wait for the
// flush, statements are planned for their values, the projection is
// locked, and the checkpoint is read.
func begin(ctx context.Context, q *db.Queries) (uint64, error) {
	if err := q.SetUpProjectorTransaction(ctx); err != nil {
		return 0, fmt.Errorf("projector transaction: %w", err)
	}
	if err := q.LockProjection(ctx); err != nil {
		return 0, fmt.Errorf("lock projection: %w", err)
	}
	return Checkpoint(ctx, q)
}

// fold folds the events of b after position cp into changes, folding
// p.roster forward with them: one segment, or more when an event rewrites
// rows written before it (see rewrites), each to be written in turn.
// earlier are segments written but whose messages are not known yet (a
// batch being written while this one folds): a repeat of one is skipped. Folding
// touches no database, so a replay folds a batch while the one before it is
// being written (pipeline.go).
func (p *Projector) fold(b jet.Batch, cp uint64, earlier []*changes) ([]*changes, error) {
	if p.Apps == nil {
		p.Apps = config.Defaults()
	}
	c := newChanges(p.known, p.roster, p.Apps)
	c.reserve(b.Events)
	c.earlier, c.lastDeferred = earlier, p.lastDeferred
	var segs []*changes
	for _, e := range b.Events {
		if e.Seq <= cp {
			continue
		}
		if rewrites(e) {
			segs = append(segs, c)
			c = c.next()
		}
		if err := c.add(p.effects, e); err != nil {
			return nil, err
		}
	}
	return append(segs, c), nil
}

// writeBatch sends folded segments, in order, then the checkpoint last, inside
// the transaction of q.
func (p *Projector) writeBatch(ctx context.Context, tx pgx.Tx, segs []*changes, last uint64) error {
	q := db.New(tx)
	for _, c := range segs {
		if len(c.conversions) > 0 && c.known != nil {
			// ConvertVisitor finds the visitor's messages by conversation:
			// without the index a rebuild defers, each would read them all.
			if err := buildIndexNow(ctx, tx, "messages_by_conversation"); err != nil {
				return err
			}
		}
		if err := write(ctx, tx, q, c); err != nil {
			return err
		}
	}
	if err := q.SetCheckpoint(ctx, db.SetCheckpointParams{Name: Name, Position: int64(last)}); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if p.beforeCommit != nil {
		return p.beforeCommit(last)
	}
	return nil
}

// committed records that segs committed: in replays, their messages are
// now known.
func (p *Projector) committed(segs []*changes) {
	if p.known == nil {
		return
	}
	for _, c := range segs {
		for _, k := range c.knownKeys {
			p.known.add(k)
		}
	}
}

// copyThreshold is the batch size from which messages go through the
// staging table (COPY, then one merge) rather than InsertMessages' arrays:
// the large batches of a backlog being caught up. It costs two round trips
// more, so small live batches take the arrays.
const copyThreshold = 200

// write sends the folded changes as batched statements, in dependency order,
// in tx (whose queries are q).
func write(ctx context.Context, tx pgx.Tx, q *db.Queries, c *changes) error {
	var firstErr error
	keep := func(_ int, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, cv := range c.conversions {
		if err := q.ConvertVisitor(ctx, cv); err != nil {
			return fmt.Errorf("convert visitor %s: %w", cv.AnonymousID, err)
		}
	}
	if len(c.conversations) > 0 {
		q.InsertConversation(ctx, c.conversations).Exec(keep)
	}
	var ups db.UpsertParticipantsParams
	var dels []db.DeleteParticipantParams
	for _, k := range c.memberOrder {
		mc := c.members[k]
		if mc.removed {
			dels = append(dels, db.DeleteParticipantParams{App: k.app, ConversationID: k.conv, UserID: k.user})
		}
		if j := mc.join; j != nil {
			ups.App, ups.ConversationID, ups.UserID = append(ups.App, k.app), append(ups.ConversationID, k.conv), append(ups.UserID, k.user)
			ups.Role, ups.JoinedAt, ups.JoinedSeq = append(ups.Role, j.role), append(ups.JoinedAt, j.joinedAt), append(ups.JoinedSeq, j.joinedSeq)
		}
	}
	if len(dels) > 0 {
		q.DeleteParticipant(ctx, dels).Exec(keep)
	}
	if len(ups.App) > 0 && firstErr == nil {
		keep(0, q.UpsertParticipants(ctx, ups))
	}
	if firstErr != nil { // the transaction is aborted: report the cause, not what follows
		return fmt.Errorf("write read model: %w", firstErr)
	}
	switch {
	case c.known != nil && len(c.messages) > 0:
		if err := copyMessages(ctx, tx, c.messages); err != nil {
			return err
		}
	case len(c.messages) >= copyThreshold:
		// Bulk: COPY into the staging table, then one merge statement.
		if _, err := q.StageMessages(ctx, c.messages); err != nil {
			return fmt.Errorf("stage messages: %w", err)
		}
		if err := q.MergeStagedMessages(ctx); err != nil {
			return fmt.Errorf("merge messages: %w", err)
		}
		if err := q.ClearStagedMessages(ctx); err != nil {
			return fmt.Errorf("clear staged messages: %w", err)
		}
		c.checkRowApprovals()
	case len(c.messages) > 0:
		written, err := insertMessages(ctx, q, c.messages)
		if err != nil {
			return err
		}
		c.standing(written)
	}
	if len(c.moderations) > 0 {
		q.ModerateMessage(ctx, c.moderations).Exec(keep)
	}
	if len(c.held) > 0 {
		q.InsertHeldDecision(ctx, c.held).Exec(keep)
	}
	if len(c.edits) > 0 {
		q.EditMessage(ctx, c.edits).Exec(keep)
	}
	if len(c.deletions) > 0 {
		q.DeleteMessage(ctx, c.deletions).Exec(keep)
	}
	if len(c.receipts) > 0 {
		q.InsertReceipt(ctx, c.receipts).Exec(keep)
	}
	var reads []db.AdvanceReadParams
	var deliveries []db.AdvanceDeliveredParams
	for _, pos := range c.positionRuns {
		if pos.read != nil {
			reads = append(reads, *pos.read)
		}
		if pos.delivered != nil {
			deliveries = append(deliveries, *pos.delivered)
		}
	}
	if len(reads) > 0 {
		q.AdvanceRead(ctx, reads).Exec(keep)
	}
	if len(deliveries) > 0 {
		q.AdvanceDelivered(ctx, deliveries).Exec(keep)
	}
	writeConversations(ctx, q, c, keep)
	writeSync(ctx, tx, q, c, keep)
	if firstErr == nil {
		// Notifications read the settings before the batch's are written.
		keep(0, writeNotes(ctx, tx, q, c))
		keep(0, writeGroups(ctx, q, c))
	}
	writeAnnouncements(ctx, q, c, keep)
	if firstErr != nil {
		return fmt.Errorf("write read model: %w", firstErr)
	}
	return nil
}
