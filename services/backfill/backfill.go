package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/progress"
)

// Importer appends a parsed file to the log, chunk by chunk, recording in
// the import ledger how far it got. The ledger makes a second run of the
// same file append nothing, however long after the first (the log's own
// deduplication window is short), and lets an interrupted run resume.
type Importer struct {
	JS       jetstream.JetStream
	Progress io.Writer
	Chunk    int // lines per chunk; default 500
}

// Result says what an import did.
type Result struct {
	Items       int // valid lines in the file
	Appended    int // events appended by this run
	Resumed     int // lines a previous run had already imported
	AlreadyDone bool
}

type ledgerEntry struct {
	Done    int       `json:"done"`
	Items   int       `json:"items"`
	Updated time.Time `json:"updated"`
}

// Import appends every valid item of f not yet imported.
func (im *Importer) Import(ctx context.Context, f *File) (Result, error) {
	if im.Chunk <= 0 {
		im.Chunk = 500
	}
	res := Result{Items: len(f.Items)}
	kv, err := im.JS.CreateOrUpdateKeyValue(ctx, jet.BackfillLedgerConfig())
	if err != nil {
		return res, fmt.Errorf("import ledger: %w", err)
	}
	done := 0
	if e, err := kv.Get(ctx, f.Digest); err == nil {
		var le ledgerEntry
		if err := json.Unmarshal(e.Value(), &le); err != nil {
			return res, fmt.Errorf("import ledger entry %s: %w", f.Digest, err)
		}
		done = min(le.Done, len(f.Items))
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return res, fmt.Errorf("import ledger: %w", err)
	}
	res.Resumed = done
	if done == len(f.Items) {
		res.AlreadyDone = true
		return res, nil
	}
	app := jet.NewAppender(im.JS)
	meter := progress.New(im.Progress, "backfill", "lines", uint64(done), uint64(len(f.Items)))
	defer meter.Done()
	for done < len(f.Items) {
		chunk := f.Items[done:min(done+im.Chunk, len(f.Items))]
		n, err := appendChunk(ctx, app, chunk)
		res.Appended += n
		if err != nil {
			return res, fmt.Errorf("import lines %d-%d: %w", chunk[0].Line, chunk[len(chunk)-1].Line, err)
		}
		done += len(chunk)
		b, _ := json.Marshal(ledgerEntry{Done: done, Items: len(f.Items), Updated: time.Now().UTC()})
		if _, err := kv.Put(ctx, f.Digest, b); err != nil {
			return res, fmt.Errorf("import ledger: %w", err)
		}
		meter.Update(uint64(done))
	}
	return res, nil
}

// appendChunk appends a chunk's events in file order, then the decisions on
// its messages, which name their posting's position.
func appendChunk(ctx context.Context, app *jet.Appender, items []Item) (int, error) {
	var first, decisions []*events.Envelope
	for _, it := range items {
		for _, e := range it.Events {
			if e.Type == events.TypeMessageModerated {
				decisions = append(decisions, e)
			} else {
				first = append(first, e)
			}
		}
	}
	acks, err := app.AppendAll(ctx, first)
	if err != nil {
		return 0, err
	}
	posted := map[string]uint64{}
	n := 0
	for i, e := range first {
		if !acks[i].Duplicate {
			n++
		}
		if e.Type == events.TypeMessagePosted {
			p, _ := e.Payload()
			posted[p.(*events.MessagePosted).MessageID] = acks[i].Seq
		}
	}
	for i, d := range decisions {
		p, _ := d.Payload()
		m := *p.(*events.MessageModerated)
		m.PostedSeq = posted[m.MessageID]
		if decisions[i], err = events.New(d.ID, d.App, d.At, d.Actor, &m); err != nil {
			return n, err
		}
	}
	acks, err = app.AppendAll(ctx, decisions)
	if err != nil {
		return n, err
	}
	for _, a := range acks {
		if !a.Duplicate {
			n++
		}
	}
	return n, nil
}
