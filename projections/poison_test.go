package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
	chatsql "github.com/chatbackend/chat/sql"
)

func TestRefusedDataIsTheEventsFaultOnlyForDataErrors(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "22021"}, true},                                     // invalid byte sequence: a NUL in text
		{&pgconn.PgError{Code: "22P05"}, true},                                     // untranslatable character
		{&pgconn.PgError{Code: "23514"}, true},                                     // check violation
		{&pgconn.PgError{Code: "23505"}, true},                                     // unique violation
		{&pgconn.PgError{Code: "54000"}, true},                                     // program limit, e.g. an index row too large
		{fmt.Errorf("write read model: %w", &pgconn.PgError{Code: "22001"}), true}, // wrapped
		{&pgconn.PgError{Code: "08006"}, false},                                    // connection failure
		{&pgconn.PgError{Code: "57P01"}, false},                                    // admin shutdown
		{&pgconn.PgError{Code: "57014"}, false},                                    // query cancelled
		{&pgconn.PgError{Code: "40001"}, false},                                    // serialization failure
		{&pgconn.PgError{Code: "25P02"}, false},                                    // transaction aborted: not the cause
		{&pgconn.PgError{Code: ""}, false},
		{context.DeadlineExceeded, false},
		{errors.New("conn closed"), false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := refusedData(tc.err); got != tc.want {
			t.Errorf("refusedData(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// poisonFixture is a log and a read model that refuses any message whose
// content is "poison": a real PostgreSQL data error (check_violation) for
// an event that passes validation, standing for whatever the database may
// refuse that nobody foresaw.
type poisonFixture struct {
	js   jetstream.JetStream
	url  string
	pool *pgxpool.Pool
	at   time.Time
}

func newPoisonFixture(t *testing.T) *poisonFixture {
	t.Helper()
	f := &poisonFixture{js: testkit.NATS(t, jet.StreamOptions{}), url: testkit.Postgres(t), at: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	f.pool = refusingPool(t, f.url, testkit.Schema)
	return f
}

// refusingPool opens schema with the poison-refusing constraint.
func refusingPool(t *testing.T, url, schema string) *pgxpool.Pool {
	t.Helper()
	pool, err := chatsql.Open(context.Background(), url, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), "ALTER TABLE messages ADD CONSTRAINT refuses_poison CHECK (content <> 'poison')"); err != nil {
		t.Fatal(err)
	}
	return pool
}

func (f *poisonFixture) event(t *testing.T, id string, p events.Payload) *events.Envelope {
	t.Helper()
	f.at = f.at.Add(time.Second)
	e, err := events.New(id, "geosector", f.at, events.Actor{ID: "alice", Type: events.ActorUser}, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *poisonFixture) conversation(t *testing.T, conv string) *events.Envelope {
	return f.event(t, "conv-"+conv, &events.ConversationCreated{ConversationID: conv, Kind: events.KindGroup, ReplyPermission: events.ReplyAll,
		CreatedBy: "alice", Members: []events.Member{{UserID: "alice", Role: events.RoleAdmin}, {UserID: "bob", Role: events.RoleMember}}})
}

func (f *poisonFixture) post(t *testing.T, conv, id, content string) *events.Envelope {
	return f.event(t, "posted-"+id, &events.MessagePosted{MessageID: id, ClientMsgID: id, ConversationID: conv, SenderID: "alice",
		SenderType: events.ActorUser, Content: content, ContentType: events.ContentText})
}

func (f *poisonFixture) approve(t *testing.T, conv, id string) *events.Envelope {
	return f.event(t, "mod-"+id, &events.MessageModerated{MessageID: id, ConversationID: conv, SenderID: "alice", ClientMsgID: id,
		Status: events.StatusApproved})
}

// append stores evs and returns their positions by event id.
func (f *poisonFixture) append(t *testing.T, evs ...*events.Envelope) map[string]uint64 {
	t.Helper()
	res, err := jet.NewAppender(f.js).AppendAll(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[string]uint64{}
	for i, e := range evs {
		seqs[e.ID] = res[i].Seq
	}
	return seqs
}

// appendUnchecked publishes a MessagePosted the way a producer that skips
// validation would: straight to JetStream, whatever its content.
func (f *poisonFixture) appendUnchecked(t *testing.T, conv, id, content string) uint64 {
	t.Helper()
	f.at = f.at.Add(time.Second)
	data, err := json.Marshal(map[string]any{"messageId": id, "clientMsgId": id, "conversationId": conv, "senderId": "alice",
		"senderType": "user", "content": content, "contentType": "text"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{"id": "posted-" + id, "type": events.TypeMessagePosted, "v": events.Version,
		"app": "geosector", "at": f.at, "actor": events.Actor{ID: "alice", Type: events.ActorUser}, "data": json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(events.SubjectRoot + ".geosector.conv." + conv + ".message.posted")
	m.Data = env
	m.Header.Set(events.HeaderType, string(events.TypeMessagePosted))
	ack, err := f.js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// run projects the log up to its end with a live projector, then stops it.
func (f *poisonFixture) run(t *testing.T) {
	t.Helper()
	mark := NewWatermark(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Projector{Pool: f.pool, JS: f.js, Log: testkit.Logger(t), Watermark: mark}).Run(ctx) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if last := lastSeq(t, f.js); !mark.Wait(wctx, last) {
		t.Fatalf("projector stopped at %d of %d", mark.Position(), last)
	}
}

// messages lists the messages table as id@seq=status/moderatedSeq.
func (f *poisonFixture) messages(t *testing.T) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(),
		"SELECT id || '@' || seq || '=' || moderation_status || '/' || coalesce(moderated_seq, 0) FROM messages ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// parked returns the dead letters of the projector: position → reason.
func parked(t *testing.T, js jetstream.JetStream) map[uint64]string {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != events.DeadLetterSubjectFor(Name) {
			continue
		}
		pos, err := strconv.ParseUint(m.Header.Get("Chat-Seq"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[pos]; dup {
			t.Fatalf("event %d parked twice", pos)
		}
		out[pos] = m.Header.Get(events.HeaderReason)
	}
	return out
}

func row(id string, seq uint64, status string, moderated uint64) string {
	return fmt.Sprintf("%s@%d=%s/%d", id, seq, status, moderated)
}

func TestARefusedBatchLandsItsGoodEventsOnceAndParksThePoison(t *testing.T) {
	f := newPoisonFixture(t)
	evs := []*events.Envelope{f.conversation(t, "c1"), f.post(t, "c1", "m1", "first"), f.post(t, "c1", "bad", "poison"),
		f.approve(t, "c1", "m1"), f.post(t, "c1", "m2", "second"), f.approve(t, "c1", "bad"), f.approve(t, "c1", "m2"),
		f.post(t, "c1", "m3", "third")}
	seq := f.append(t, evs...)
	last := lastSeq(t, f.js)

	// The whole log as one batch, as the projector reads it under load.
	b := jet.Batch{Events: evs, Last: last}
	for _, e := range evs {
		e.Seq = seq[e.ID]
	}
	p := &Projector{Pool: f.pool, JS: f.js, Log: testkit.Logger(t)}
	if err := p.Apply(context.Background(), b); !refusedData(err) {
		t.Fatalf("the batch applied whole: %v; the test needs the database to refuse it", err)
	}
	park := jet.NewParker(f.js, Name, testkit.Logger(t))
	if err := p.applyOrPark(context.Background(), b, park); err != nil {
		t.Fatal(err)
	}
	want := []string{
		row("m1", seq["posted-m1"], "approved", seq["mod-m1"]),
		row("m2", seq["posted-m2"], "approved", seq["mod-m2"]),
		row("m3", seq["posted-m3"], "pending", 0),
	}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages:\ngot  %v\nwant %v", got, want)
	}
	if cp, _ := Checkpoint(context.Background(), dbq(f.pool)); cp != last {
		t.Fatalf("checkpoint %d, want %d: past the parked event", cp, last)
	}
	dead := parked(t, f.js)
	if len(dead) != 1 || !strings.Contains(dead[seq["posted-bad"]], "SQLSTATE 23514") {
		t.Fatalf("dead letters %v, want the poison at %d with PostgreSQL's reason", dead, seq["posted-bad"])
	}

	// Applied again (a redelivery): nothing changes, nothing more is parked.
	if err := p.applyOrPark(context.Background(), b, park); err != nil {
		t.Fatal(err)
	}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages after a second application:\ngot  %v\nwant %v", got, want)
	}
	if dead := parked(t, f.js); len(dead) != 1 {
		t.Fatalf("dead letters after a second application: %v", dead)
	}
}

func TestLiveProjectorParksPoisonAndGoesOnAcrossARestart(t *testing.T) {
	f := newPoisonFixture(t)
	seq := f.append(t, f.conversation(t, "c1"), f.post(t, "c1", "m1", "before"))
	nulAt := f.appendUnchecked(t, "c1", "nul", "a\x00b") // refused when read: invalid payload
	for k, v := range f.append(t, f.post(t, "c1", "bad", "poison"), f.post(t, "c1", "m2", "after")) {
		seq[k] = v
	}
	f.run(t)
	want := []string{row("m1", seq["posted-m1"], "pending", 0), row("m2", seq["posted-m2"], "pending", 0)}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages:\ngot  %v\nwant %v", got, want)
	}
	dead := parked(t, f.js)
	if len(dead) != 2 || !strings.Contains(dead[nulAt], "content") || !strings.Contains(dead[seq["posted-bad"]], "SQLSTATE 23514") {
		t.Fatalf("dead letters %v, want the NUL at %d and the poison at %d", dead, nulAt, seq["posted-bad"])
	}

	// A new projector resumes after them: the parked events stay parked once,
	// the events after them are projected.
	for k, v := range f.append(t, f.approve(t, "c1", "m1"), f.post(t, "c1", "bad2", "poison"), f.post(t, "c1", "m3", "later")) {
		seq[k] = v
	}
	f.run(t)
	want = []string{row("m1", seq["posted-m1"], "approved", seq["mod-m1"]), row("m2", seq["posted-m2"], "pending", 0),
		row("m3", seq["posted-m3"], "pending", 0)}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages after the restart:\ngot  %v\nwant %v", got, want)
	}
	if dead := parked(t, f.js); len(dead) != 3 || dead[seq["posted-bad2"]] == "" {
		t.Fatalf("dead letters after the restart %v, want 3 with %d", dead, seq["posted-bad2"])
	}
}

func TestReplayParksTheSameEventsAndRebuildsTheSameModel(t *testing.T) {
	f := newPoisonFixture(t)
	history(t, f.js, 300)
	f.append(t, f.post(t, "c1", "bad", "poison"))
	f.appendUnchecked(t, "c2", "nul", "\x00")
	history2(t, f.js)
	f.append(t, f.post(t, "c2", "bad2", "poison"))
	f.run(t)
	live := parked(t, f.js)
	if len(live) != 3 {
		t.Fatalf("the live projector parked %v, want 3 events", live)
	}

	// The rebuilt schema refuses what the live one refuses.
	refusingPool(t, f.url, testkit.Schema+"_rebuild")
	sum, err := (&Replay{DatabaseURL: f.url, JS: f.js, Live: testkit.Schema, Log: testkit.Logger(t), Verify: true, Batch: 100}).
		Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Differences) > 0 {
		t.Fatalf("rebuilt model differs from the live one:\n%v", sum.Differences)
	}
	if sum.Position != lastSeq(t, f.js) {
		t.Fatalf("replay stopped at %d of %d", sum.Position, lastSeq(t, f.js))
	}
	if again := parked(t, f.js); !maps.Equal(again, live) {
		t.Fatalf("dead letters after the replay %v, want the live ones %v", again, live)
	}
}
