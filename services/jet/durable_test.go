package jet_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

type recording struct {
	mu     sync.Mutex
	seen   []uint64
	poison uint64
	fails  int // transient failures still to return
}

func (r *recording) Restore([]*events.Envelope) {}

func (r *recording) Handle(_ context.Context, evs []*events.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails > 0 {
		r.fails--
		return errors.New("transient")
	}
	for _, e := range evs {
		if e.Seq == r.poison {
			return &jet.PoisonError{Event: e, Err: errors.New("cannot apply")}
		}
		r.seen = append(r.seen, e.Seq)
	}
	return nil
}

func (r *recording) handled() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seen...)
}

// A poison event and an undecodable message are parked with their reason;
// the consumer retries transient errors and goes on past both.
func TestDurableParksPoisonAndGoesOn(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	app := jet.NewAppender(js)
	appendJoin := func(u string) {
		e, err := events.New("e"+u, "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: u, Role: events.RoleMember, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	appendJoin("a") // 1
	appendJoin("b") // 2: the poison
	// 3: a message no consumer can decode
	if _, err := js.Publish(ctx, "chat.evt.geosector.conv.c1.member.joined", []byte(`{"not":"an envelope"}`)); err != nil {
		t.Fatal(err)
	}
	appendJoin("c") // 4
	h := &recording{poison: 2, fails: 2}
	d := &jet.Durable{JS: js, Name: "test-consumer", Handler: h, Log: testkit.Logger(t)}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	testkit.Eventually(t, 20*time.Second, "the consumer to pass both bad events", func() bool {
		seen := h.handled()
		return len(seen) > 0 && seen[len(seen)-1] == 4
	})
	cancel()
	<-done
	if seen := h.handled(); len(seen) != 2 || seen[0] != 1 || seen[1] != 4 {
		t.Fatalf("handled %v, want [1 4]", seen)
	}
	s, err := js.Stream(ctx, events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2} {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		if m.Header.Get(events.HeaderReason) == "" || m.Subject != "chat.dlq.test-consumer" {
			t.Fatalf("dead letter %d: %s %v", seq, m.Subject, m.Header)
		}
	}
	if _, err := s.GetMsg(ctx, 3); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("a third dead letter: %v", err)
	}
}

// slowFlush is a recording whose Flush waits until the test lets it end.
type slowFlush struct {
	recording
	started chan struct{} // a value per Flush begun
	release chan struct{} // a value lets one Flush end
}

func (s *slowFlush) Flush(ctx context.Context) error {
	s.started <- struct{}{}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A flusher's confirmations travel beside its handling: events go on being
// handled while a Flush waits, and nothing is acknowledged before the Flush
// that covers it returns.
func TestDurableHandlesOnWhileAFlushWaits(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	app := jet.NewAppender(js)
	appendJoin := func(u string) {
		e, err := events.New("e"+u, "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: u, Role: events.RoleMember, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	h := &slowFlush{started: make(chan struct{}, 16), release: make(chan struct{})}
	d := &jet.Durable{JS: js, Name: "flushing", Handler: h, Log: testkit.Logger(t), AckEvery: time.Millisecond}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}()
	ackFloor := func() uint64 {
		c, err := js.Consumer(ctx, events.Stream, "flushing")
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.AckFloor.Stream
	}

	appendJoin("a") // 1
	select {
	case <-h.started:
	case <-time.After(20 * time.Second):
		t.Fatal("no Flush after the first event")
	}
	appendJoin("b") // 2, while that Flush waits
	appendJoin("c") // 3
	testkit.Eventually(t, 20*time.Second, "events handled while a Flush waits", func() bool {
		return len(h.handled()) == 3
	})
	if f := ackFloor(); f != 0 {
		t.Fatalf("acknowledged up to %d before any Flush returned", f)
	}
	h.release <- struct{}{} // the first Flush covers event 1
	testkit.Eventually(t, 20*time.Second, "event 1 acknowledged", func() bool { return ackFloor() >= 1 })
	// The next Flush covers the rest; until it returns they stay unacknowledged.
	select {
	case <-h.started:
	case <-time.After(20 * time.Second):
		t.Fatal("no Flush for events 2 and 3")
	}
	if f := ackFloor(); f > 1 {
		t.Fatalf("acknowledged up to %d before the Flush covering it returned", f)
	}
	h.release <- struct{}{}
	testkit.Eventually(t, 20*time.Second, "every event acknowledged", func() bool { return ackFloor() == 3 })
}

// A durable with a filter is delivered only the events under it, and one
// that read everything before takes the filter on at its position.
func TestDurableWithAFilterIsDeliveredOnlyItsSubjects(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	app := jet.NewAppender(js)
	appendMember := func(u string, joins bool) {
		var p events.Payload = &events.MemberLeft{ConversationID: "c1", UserID: u, RemovedBy: "x"}
		if joins {
			p = &events.MemberJoined{ConversationID: "c1", UserID: u, Role: events.RoleMember, AddedBy: "x"}
		}
		e, err := events.New(events.NewEventID(), "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser}, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	run := func(d *jet.Durable, last uint64) {
		t.Helper()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		testkit.Eventually(t, 20*time.Second, "the consumer to acknowledge its last event", func() bool {
			c, err := js.Consumer(ctx, events.Stream, d.Name)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			return err == nil && info.AckFloor.Stream == last
		})
		cancel()
		<-done
	}
	appendMember("a", true)  // 1
	appendMember("a", false) // 2
	appendMember("b", true)  // 3
	first := &recording{}
	run(&jet.Durable{JS: js, Name: "filtered", Handler: first, Log: testkit.Logger(t)}, 3)
	if seen := first.handled(); len(seen) != 3 {
		t.Fatalf("without a filter the consumer handled %v, want every event", seen)
	}
	appendMember("b", false) // 4
	appendMember("c", true)  // 5
	appendMember("c", false) // 6
	appendMember("d", true)  // 7
	second := &recording{}
	run(&jet.Durable{JS: js, Name: "filtered", Handler: second, Log: testkit.Logger(t),
		Filter: events.SubjectsOf(events.TypeMemberJoined)}, 7)
	if seen := second.handled(); len(seen) != 2 || seen[0] != 5 || seen[1] != 7 {
		t.Fatalf("with a filter on member.joined the consumer handled %v, want [5 7]", seen)
	}
}
