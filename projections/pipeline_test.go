package projections

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// A replay folds each batch while the one before it is written. When the
// batch in flight is refused (PostgreSQL refuses an event, or an effect
// panics), what was folded after it is thrown away: the pipelined replay
// parks exactly the events applyOrPark parks batch after batch, and writes
// the same rows, whether the refused batch is in the middle or the last.
func TestPipelinedReplayParksThePoisonAndWritesWhatApplyOrParkWrites(t *testing.T) {
	ctx := context.Background()
	f := newPoisonFixture(t)
	repost := func(eventID, id, content string) *events.Envelope {
		return f.event(t, eventID, &events.MessagePosted{MessageID: id, ClientMsgID: id, ConversationID: "c1", SenderID: "alice",
			SenderType: events.ActorUser, Content: content, ContentType: events.ContentText})
	}
	batches := [][]*events.Envelope{
		{f.conversation(t, "c1"), f.post(t, "c1", "m1", "first"), f.post(t, "c1", "bad", "poison"), f.post(t, "c1", "m2", "second")},
		// Folded while the batch above is in flight, which holds "bad":
		// folded on that batch, its repeat would be skipped, not parked.
		{repost("posted-bad-again", "bad", "poison"), repost("posted-m1-again", "m1", "first"), f.approve(t, "c1", "m1"),
			f.approve(t, "c1", "bad"), f.post(t, "c1", "m3", "third")},
		{f.approve(t, "c1", "m3"), f.post(t, "c1", "m4", "boom")}, // an effect that panics
		{f.approve(t, "c1", "m2"), f.post(t, "c1", "m5", "fifth")},
		// Folded while the batch above, which commits, is in flight: the
		// repeat is skipped, not copied a second time (which PostgreSQL
		// would refuse, sending the batch event by event).
		{repost("posted-m5-again", "m5", "fifth"), f.post(t, "c1", "m7", "seventh")},
		{f.post(t, "c1", "m6", "sixth"), f.post(t, "c1", "bad3", "poison")}, // the last batch: refused while draining
	}
	seqs := f.append(t, slices.Concat(batches...)...)
	var bs []jet.Batch
	for _, evs := range batches {
		for _, e := range evs {
			e.Seq = seqs[e.ID]
		}
		bs = append(bs, jet.Batch{Events: evs, Last: evs[len(evs)-1].Seq})
	}
	park := jet.NewParker(f.js, Name, testkit.Logger(t))

	refusals := &countWarnings{}
	p := &Projector{Pool: f.pool, JS: f.js, Log: slog.New(refusals), effects: boomEffects()}
	if err := p.bulk(ctx); err != nil {
		t.Fatal(err)
	}
	var applied []uint64
	pl := newPipeline(p, park, func(b jet.Batch, _ time.Duration) { applied = append(applied, b.Last) })
	for _, b := range bs {
		if err := pl.add(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := pl.drain(ctx); err != nil {
		t.Fatal(err)
	}

	got := parked(t, f.js)
	if n := refusals.n.Load(); n != 4 {
		t.Fatalf("%d batches applied event by event, want 4 (the two with poison, the panic's, the last)", n)
	}

	serial := refusingPool(t, f.url, testkit.Schema+"_serial")
	s := &Projector{Pool: serial, JS: f.js, Log: testkit.Logger(t), effects: boomEffects()}
	if err := s.bulk(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := s.applyOrPark(ctx, b, park); err != nil {
			t.Fatal(err)
		}
	}
	if again := parked(t, f.js); !maps.Equal(again, got) {
		t.Fatalf("the pipeline parked %v, applyOrPark batch after batch %v", got, again)
	}

	var lasts []uint64
	for _, b := range bs {
		lasts = append(lasts, b.Last)
	}
	if !slices.Equal(applied, lasts) {
		t.Fatalf("batches reported applied %v, want each in order %v", applied, lasts)
	}
	if cp, _ := Checkpoint(ctx, dbq(f.pool)); cp != lasts[len(lasts)-1] {
		t.Fatalf("checkpoint %d, want %d", cp, lasts[len(lasts)-1])
	}
	wantDead := []uint64{seqs["posted-bad"], seqs["posted-bad-again"], seqs["posted-m4"], seqs["posted-bad3"]}
	if dead := slices.Sorted(maps.Keys(got)); !slices.Equal(dead, wantDead) {
		t.Fatalf("parked %v, want %v", dead, wantDead)
	}
	want := []string{
		row("m1", seqs["posted-m1"], "approved", seqs["mod-m1"]),
		row("m2", seqs["posted-m2"], "approved", seqs["mod-m2"]),
		row("m3", seqs["posted-m3"], "approved", seqs["mod-m3"]),
		row("m5", seqs["posted-m5"], "pending", 0),
		row("m7", seqs["posted-m7"], "pending", 0),
		row("m6", seqs["posted-m6"], "pending", 0),
	}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages:\ngot  %v\nwant %v", got, want)
	}
	if diff := DigestDiff(poolDigest(t, serial, testkit.Schema+"_serial"), poolDigest(t, f.pool, testkit.Schema)); len(diff) > 0 {
		t.Fatalf("pipelined model differs from the one applied batch after batch: %v", diff)
	}
}

// boomEffects are the read model's effects on conversations and messages,
// except that posting a message whose content is "boom" panics.
func boomEffects() *events.Router[*changes] {
	r := events.NewRouter[*changes]("projector-test")
	events.On(r, (*changes).conversationCreated)
	events.On(r, (*changes).memberJoined)
	events.On(r, (*changes).memberLeft)
	events.On(r, func(c *changes, e *events.Envelope, p *events.MessagePosted) error {
		if p.Content == "boom" {
			panic(fmt.Sprint("effect of ", p.MessageID, " fails"))
		}
		return c.messagePosted(e, p)
	})
	events.On(r, (*changes).messageModerated)
	r.Ignore(events.TypeServiceAccountCreated, events.TypeWebhooksChanged, events.TypeModerationRulesChanged)
	return r
}

// countWarnings counts the warnings logged.
type countWarnings struct{ n atomic.Int64 }

func (c *countWarnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (c *countWarnings) Handle(context.Context, slog.Record) error    { c.n.Add(1); return nil }
func (c *countWarnings) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *countWarnings) WithGroup(string) slog.Handler                { return c }

func poolDigest(t *testing.T, pool *pgxpool.Pool, schema string) map[string]string {
	t.Helper()
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	d, err := Digest(context.Background(), conn.Conn(), schema)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
