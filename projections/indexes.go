package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/chatbackend/chat/sql/db"
)

// A replay builds a fresh schema by appending rows; maintaining a B-tree row
// by row costs a random page visit per index per row (message keys are
// hashes), while building it once from the loaded table is a sort. So a
// replay drops these indexes from the schema it creates, before the first
// row, and builds them after the last event, before the swap: the model it
// makes live, and the live projector that goes on from it, have them all.
//
// Only indexes no projector statement searches by are deferred: the primary
// keys stay (conflict targets, and the key of every update by id), and so
// does conversation_feed_by_conversation (ScrubEdits finds a deleted
// message's edits by it).
var deferredIndexes = []string{
	"participants_by_user",
	"messages_by_conversation", // unique, but its key holds the posting's own log position
	"messages_by_decision",
	"messages_by_sender_decision",
	"memberships_by_user",
	"receipts_by_position",
	"receipts_by_event",
	"user_feed_notifications", // every conversation notification's row
	"group_members_by_user",
	"group_memberships_by_user",
	"group_feed_by_group",
	"announcements_by_author",
	"announcement_recipients_by_user",
}

// pendingIndexes is the table, in a schema being rebuilt, of the indexes
// dropped for the bulk load and still to build, with their definitions: an
// interrupted replay finds them there and builds them when it finishes. It
// exists only until they are built.
//
// It also records lastMessages, the conversations' last messages, filled
// the same way: once, from the loaded messages (FillLastMessages), rather
// than by an update of each conversation in every batch approving one of
// its messages (about a second of a 1,000,000-event rebuild).
const pendingIndexes = "replay_pending_indexes"

// lastMessages names the fill of the last messages in pendingIndexes.
const lastMessages = "conversations.last_message_seq"

// deferIndexes drops the deferred indexes of a schema nothing has been
// written to yet, recording their definitions. A schema already holding
// rows (an interrupted run resumed, or one built before indexes were
// deferred) keeps what it has.
func deferIndexes(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var started bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM projection_checkpoints)").Scan(&started); err != nil {
			return fmt.Errorf("defer indexes: %w", err)
		}
		if started {
			return nil
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+pendingIndexes+
			" (name text PRIMARY KEY, definition text NOT NULL)"); err != nil {
			return fmt.Errorf("defer indexes: %w", err)
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+pendingIndexes+" (name, definition) "+
			"SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_class c "+
			"WHERE c.relkind = 'i' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1) "+
			"ON CONFLICT (name) DO NOTHING", deferredIndexes)
		if err != nil {
			return fmt.Errorf("defer indexes: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+pendingIndexes+" (name, definition) VALUES ($1, 'FillLastMessages') "+
			"ON CONFLICT (name) DO NOTHING", lastMessages); err != nil {
			return fmt.Errorf("defer last messages: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT c.relname FROM pg_class c "+
			"WHERE c.relkind = 'i' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)", deferredIndexes)
		if err != nil {
			return fmt.Errorf("defer indexes: %w", err)
		}
		present, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("defer indexes: %w", err)
		}
		for _, name := range present {
			if _, err := tx.Exec(ctx, "DROP INDEX "+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("defer index %s: %w", name, err)
			}
		}
		return nil
	})
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pendingTable reports whether the schema holds pendingIndexes: a rebuild
// with deferred work left.
func pendingTable(ctx context.Context, q rowQuerier) (bool, error) {
	var pending bool
	err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pendingIndexes).Scan(&pending)
	return pending, err
}

// lastMessagesDeferred reports whether the schema of pool is a rebuild that
// fills its last messages at the end.
func lastMessagesDeferred(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	deferred, err := pendingTable(ctx, pool)
	if err == nil && deferred {
		err = pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pendingIndexes+" WHERE name = $1)", lastMessages).Scan(&deferred)
	}
	if err != nil {
		return false, fmt.Errorf("deferred last messages: %w", err)
	}
	return deferred, nil
}

// buildIndexNow builds, in tx, a deferred index the rebuild needs before
// its end, if it is still to build.
func buildIndexNow(ctx context.Context, tx pgx.Tx, name string) error {
	pending, err := pendingTable(ctx, tx)
	if err != nil || !pending {
		return err
	}
	var def string
	err = tx.QueryRow(ctx, "SELECT definition FROM "+pendingIndexes+" WHERE name = $1", name).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // built
	}
	if err == nil {
		err = buildPending(ctx, tx, name, def)
	}
	if err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	return nil
}

// buildPending carries out, in tx, one piece of deferred work (an index's
// definition, or the fill of the last messages) and removes its record.
func buildPending(ctx context.Context, tx pgx.Tx, name, definition string) error {
	var err error
	if name == lastMessages {
		err = db.New(tx).FillLastMessages(ctx)
	} else {
		// Builds run side by side (indexBuilders), one per core: a
		// parallel worker each would only share the same cores.
		if _, err = tx.Exec(ctx, "SET LOCAL max_parallel_maintenance_workers = 0"); err == nil {
			_, err = tx.Exec(ctx, definition)
		}
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "DELETE FROM "+pendingIndexes+" WHERE name = $1", name)
	return err
}

// indexBuilders is how many pieces of deferred work run at once, each on a
// connection of its own. A CREATE INDEX is one PostgreSQL process sorting,
// and nothing else runs at the end of a rebuild: on the benchmark's machine
// (2 cores) building two at a time took the deferred work of a 1,000,000-event
// rebuild from 2.6–2.8 s to 1.9–2.1 s, and to 1.7 s without PostgreSQL's
// parallel workers (buildPending), which only added processes to the same
// two cores; four at a time took 2.1–2.2 s. Two builds on one table share
// its lock (CREATE INDEX takes a SHARE lock, which does not conflict with
// itself).
const indexBuilders = 2

// buildIndexes builds the indexes deferIndexes dropped, each in a
// transaction with the removal of its record, so an interruption leaves the
// rest to the next run; then it drops the record table. Up to
// indexBuilders are built at once.
func buildIndexes(ctx context.Context, pool *pgxpool.Pool) error {
	pending, err := pendingTable(ctx, pool)
	if err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	if !pending {
		return nil
	}
	rows, err := pool.Query(ctx, "SELECT name, definition FROM "+pendingIndexes+" ORDER BY name")
	if err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	type index struct{ Name, Definition string }
	todo, err := pgx.CollectRows(rows, pgx.RowToStructByPos[index])
	if err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(indexBuilders)
	for _, ix := range todo {
		g.Go(func() error {
			err := pgx.BeginFunc(gctx, pool, func(tx pgx.Tx) error {
				return buildPending(gctx, tx, ix.Name, ix.Definition)
			})
			if err != nil {
				return fmt.Errorf("build index %s: %w", ix.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "DROP TABLE "+pendingIndexes); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	return nil
}
