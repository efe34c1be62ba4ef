package jet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// appendJoins stores n events and returns the log's last position.
func appendJoins(t *testing.T, js jetstream.JetStream, n int) uint64 {
	t.Helper()
	var evs []*events.Envelope
	for i := range n {
		e, err := events.New(fmt.Sprintf("join-%d", i), "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: fmt.Sprintf("u%d", i), Role: events.RoleMember, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if _, err := jet.NewAppender(js).AppendAll(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	last, err := jet.LastSeq(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// readAll reads [from, until] and returns the batches fn was given.
func readAll(t *testing.T, js jetstream.JetStream, o jet.ReadOptions) []jet.Batch {
	t.Helper()
	o.Park = jet.NewParker(js, "reader", testkit.Logger(t))
	// A read that misses its end would wait for the log to grow.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []jet.Batch
	err := jet.Read(ctx, js, o, func(_ context.Context, b jet.Batch) error {
		got = append(got, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func seqs(bs []jet.Batch) []uint64 {
	var out []uint64
	for _, b := range bs {
		for _, e := range b.Events {
			out = append(out, e.Seq)
		}
	}
	return out
}

func span(from, until uint64) []uint64 {
	var out []uint64
	for s := from; s <= until; s++ {
		out = append(out, s)
	}
	return out
}

// A bounded read hands over every event of its range once, in order, in
// batches of at most Max, and stops at Until exactly: whether Until ends a
// batch or falls inside one, and with events after it in the log.
func TestReadHandsOverExactlyItsRangeInBatches(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	appendJoins(t, js, 12)
	for _, c := range []struct {
		from, until uint64
		max         int
	}{
		{1, 12, 1}, {1, 12, 5}, {1, 10, 5}, {1, 7, 5}, {4, 9, 2}, {3, 3, 100}, {1, 12, 100},
	} {
		t.Run(fmt.Sprintf("%d-%d by %d", c.from, c.until, c.max), func(t *testing.T) {
			got := readAll(t, js, jet.ReadOptions{From: c.from, Until: c.until, Max: c.max})
			if s := seqs(got); !slices.Equal(s, span(c.from, c.until)) {
				t.Fatalf("read %v, want %d to %d", s, c.from, c.until)
			}
			for i, b := range got {
				if len(b.Events) == 0 || len(b.Events) > c.max || b.Last != b.Events[len(b.Events)-1].Seq {
					t.Fatalf("batch %d has %d events up to %d, want 1 to %d ending at its last event", i, len(b.Events), b.Last, c.max)
				}
			}
		})
	}
}

// Events that do not belong where they are stored are parked on the way,
// and a batch still says how far the read went when its last event was
// parked: the position a consumer checkpoints.
func TestReadParksMisplacedEventsAndReportsTheirPosition(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	first, last, wrong := misplaced(t, js)
	got := readAll(t, js, jet.ReadOptions{Until: last - 1, Max: 2})
	if s := seqs(got); !slices.Equal(s, []uint64{first}) {
		t.Fatalf("read %v, want [%d]", s, first)
	}
	if end := got[len(got)-1].Last; end != last-1 {
		t.Fatalf("the read ended at %d, want %d", end, last-1)
	}
	s, err := js.Stream(context.Background(), events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(wrong)) {
		t.Fatalf("%d events parked, want %d", info.State.Msgs, len(wrong))
	}
}

// A read up to a position whose event was deleted ends at the event
// before it, once the log shows an event after it.
func TestReadUntilADeletedPositionEnds(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	appendJoins(t, js, 6)
	s, err := js.Stream(context.Background(), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, js, jet.ReadOptions{Until: 4, Max: 10})
	if sq := seqs(got); !slices.Equal(sq, []uint64{1, 2, 3}) {
		t.Fatalf("read %v, want [1 2 3]", sq)
	}
}

// The callback's error ends the read, and it is not called again.
func TestReadStopsAtTheCallbacksError(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	appendJoins(t, js, 10)
	refused := errors.New("refused")
	calls := 0
	err := jet.Read(context.Background(), js, jet.ReadOptions{Until: 10, Max: 2, Park: jet.NewParker(js, "reader", testkit.Logger(t))},
		func(context.Context, jet.Batch) error {
			calls++
			return refused
		})
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("Read returned %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// A read waiting for positions not yet in the log ends with its context.
func TestReadUntilAFuturePositionEndsWithItsContext(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	last := appendJoins(t, js, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []uint64
	err := jet.Read(ctx, js, jet.ReadOptions{Until: last + 5, Max: 1, Park: jet.NewParker(js, "reader", testkit.Logger(t))},
		func(_ context.Context, b jet.Batch) error {
			got = append(got, seqs([]jet.Batch{b})...)
			if b.Last == last {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) || !slices.Equal(got, span(1, last)) {
		t.Fatalf("Read returned %v having read %v, want context.Canceled after 1 to %d", err, got, last)
	}
}
