package jet_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// misplaced stores events under subjects that disagree with their envelopes,
// between two good ones, and returns the positions of the good ones.
func misplaced(t *testing.T, js jetstream.JetStream) (first, last uint64, wrong []string) {
	t.Helper()
	ctx := context.Background()
	join := func(id, app, conv string) *events.Envelope {
		e, err := events.New(id, app, time.Now(), events.Actor{ID: "x", Type: events.ActorUser},
			&events.MemberJoined{ConversationID: conv, UserID: "mallory", Role: events.RoleAdmin, AddedBy: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	store := func(e *events.Envelope, subject string) uint64 {
		m, err := jet.Msg(e)
		if err != nil {
			t.Fatal(err)
		}
		if subject != "" {
			m.Subject = subject
		}
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	first = store(join("good-1", "geosector", "c1"), "")
	wrong = []string{
		"chat.evt.resalice.conv.c1.member.joined",   // another application's subject
		"chat.evt.geosector.conv.c2.member.joined",  // another conversation
		"chat.evt.geosector.conv.c1.message.posted", // another type
		"chat.evt.geosector.user.c1.member.joined",  // another scope
	}
	for i, s := range wrong {
		store(join("bad-"+string(rune('a'+i)), "geosector", "c1"), s)
	}
	last = store(join("good-2", "geosector", "c1"), "")
	return first, last, wrong
}

func TestDurableParksEventsStoredUnderAnotherSubjectAndGoesOn(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	ctx := context.Background()
	first, last, wrong := misplaced(t, js)
	h := &recording{}
	d := &jet.Durable{JS: js, Name: "test-consumer", Handler: h, Log: testkit.Logger(t)}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	testkit.Eventually(t, 20*time.Second, "the consumer to pass the misplaced events", func() bool {
		seen := h.handled()
		return len(seen) > 0 && seen[len(seen)-1] == last
	})
	cancel()
	<-done
	if seen := h.handled(); len(seen) != 2 || seen[0] != first {
		t.Fatalf("handled %v, want [%d %d]", seen, first, last)
	}
	s, err := js.Stream(ctx, events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	for i, subject := range wrong {
		m, err := s.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatalf("dead letter %d: %v", i+1, err)
		}
		if got := m.Header.Get("Chat-Subject"); got != subject {
			t.Errorf("dead letter %d was stored under %s, want %s", i+1, got, subject)
		}
		if reason := m.Header.Get(events.HeaderReason); !strings.Contains(reason, "stored under "+subject) {
			t.Errorf("dead letter %d: reason %q does not name the subject", i+1, reason)
		}
	}
	if _, err := s.GetMsg(ctx, uint64(len(wrong)+1)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("more dead letters than misplaced events: %v", err)
	}
}

func TestReadSkipsEventsStoredUnderAnotherSubject(t *testing.T) {
	js := testkit.NATS(t, jet.StreamOptions{})
	first, last, _ := misplaced(t, js)
	var got []uint64
	err := jet.Read(context.Background(), js, jet.ReadOptions{Until: last, Park: jet.NewParker(js, "replay", testkit.Logger(t))},
		func(_ context.Context, b jet.Batch) error {
			for _, e := range b.Events {
				got = append(got, e.Seq)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != first || got[1] != last {
		t.Fatalf("read %v, want [%d %d]", got, first, last)
	}
}
