package jet_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// An outbox's Flush confirms what was sent before it; a run the log did
// not acknowledge (here: its stream was missing) stays pending, Flush fails
// until the log takes it, and it is then stored once, even when sent twice.
func TestOutboxAppendsAgainWhatTheLogDidNotAcknowledge(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	var mu sync.Mutex
	var stored []string
	o := &jet.Outbox{Appender: jet.NewAppender(js), Stored: func(evs []*events.Envelope) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			stored = append(stored, e.ID)
		}
	}}
	storedIDs := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(stored)
	}
	ev := func(id string) *events.Envelope {
		e, err := events.New(id, "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: id, Role: events.RoleMember, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	logged := func() []string {
		t.Helper()
		s, err := js.Stream(ctx, events.Stream)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for seq := uint64(1); ; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				return ids
			}
			ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
		}
	}

	for _, run := range [][]*events.Envelope{{ev("a"), ev("b")}, {ev("c")}} {
		if err := o.Send(run); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logged(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("log holds %v after Flush, want a b c", got)
	}
	if got := storedIDs(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Stored saw %v, want a b c", got)
	}

	if err := js.DeleteStream(ctx, events.Stream); err != nil {
		t.Fatal(err)
	}
	if err := o.Send([]*events.Envelope{ev("d")}); err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with the stream missing")
	}
	if o.Pending() != 1 {
		t.Fatalf("%d runs pending after a failed Flush, want 1", o.Pending())
	}
	if err := jet.EnsureStreams(ctx, js, jet.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := o.Send([]*events.Envelope{ev("d")}); err != nil { // the handler's retry
		t.Fatal(err)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logged(); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("the new stream holds %v, want d once", got)
	}
	if o.Pending() != 0 {
		t.Fatalf("%d runs pending after Flush, want 0", o.Pending())
	}
	if got := storedIDs(); !slices.Equal(got, []string{"a", "b", "c", "d", "d"}) {
		t.Fatalf("Stored saw %v, want a b c, then d for each run", got)
	}
}
