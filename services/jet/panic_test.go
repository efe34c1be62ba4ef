package jet_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// panicky panics on one event; like every consumer it skips what it has
// already handled, so the loop may hand events over again.
type panicky struct {
	mu    sync.Mutex
	seen  []uint64
	last  uint64
	panic uint64
}

func (p *panicky) Restore([]*events.Envelope) {}

func (p *panicky) Handle(_ context.Context, evs []*events.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range evs {
		if e.Seq <= p.last {
			continue
		}
		if e.Seq == p.panic {
			panic(fmt.Sprintf("cannot handle event %d\nsecond line", e.Seq))
		}
		p.seen, p.last = append(p.seen, e.Seq), e.Seq
	}
	return nil
}

func (p *panicky) handled() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// A handler that panics on one event: that event is parked with the panic
// and where it happened as its reason, the events after it are handled.
func TestDurableParksTheEventAHandlerPanicsOnAndGoesOn(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	app := jet.NewAppender(js)
	var evs []*events.Envelope
	for _, u := range []string{"a", "b", "c", "d"} {
		e, err := events.New("e"+u, "geosector", time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: "c1", UserID: u, Role: events.RoleMember, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if _, err := app.AppendAll(ctx, evs); err != nil { // 1 to 4, in one batch if the consumer reads them together
		t.Fatal(err)
	}
	h := &panicky{panic: 2}
	d := &jet.Durable{JS: js, Name: "test-panicky", Handler: h, Log: testkit.Logger(t)}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	testkit.Eventually(t, 20*time.Second, "the consumer to pass the event it panics on", func() bool {
		seen := h.handled()
		return len(seen) > 0 && seen[len(seen)-1] == 4
	})
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
	if seen := h.handled(); !slices.Equal(seen, []uint64{1, 3, 4}) {
		t.Fatalf("handled %v, want [1 3 4]", seen)
	}
	s, err := js.Stream(ctx, events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	reason := m.Header.Get(events.HeaderReason)
	if m.Header.Get("Chat-Seq") != "2" || !strings.Contains(reason, "panicked") ||
		!strings.Contains(reason, "cannot handle event 2 second line") || !strings.Contains(reason, "panicky).Handle") {
		t.Fatalf("dead letter of event %s, reason %q: want event 2, the panic and where", m.Header.Get("Chat-Seq"), reason)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("dead letters: %v, %v; want exactly one", info, err)
	}
}
