package jet

import (
	"sync"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
)

func storedEvent(t *testing.T, content string) (subject string, data []byte) {
	t.Helper()
	e, err := events.New(events.NewEventID(), "geosector", time.Now(), events.Actor{ID: "alice", Type: events.ActorUser},
		&events.MessagePosted{MessageID: "m1", ClientMsgID: "k1", ConversationID: "c1", SenderID: "alice",
			SenderType: events.ActorUser, Content: content, ContentType: events.ContentText})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Msg(e)
	if err != nil {
		t.Fatal(err)
	}
	return m.Subject, m.Data
}

// The consumers of a process share one decoding of an event: the same
// bytes at the same position give the same envelope; other bytes, another
// position or another subject are decoded on their own.
func TestDecodeSharesAnEventAcrossConsumers(t *testing.T) {
	subject, data := storedEvent(t, "hello")
	a, err := Decode(1_000_001, subject, data)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := Decode(1_000_001, subject, append([]byte(nil), data...)); b != a {
		t.Fatal("the same event at the same position was decoded twice")
	}
	if a.Seq != 1_000_001 {
		t.Fatalf("seq %d", a.Seq)
	}
	if c, _ := Decode(1_000_001+decodedSlots, subject, data); c == a || c.Seq != 1_000_001+decodedSlots {
		t.Fatal("another position sharing the slot got the first one's envelope")
	}
	_, other := storedEvent(t, "bye")
	if d, _ := Decode(1_000_002, subject, other); d == nil || d == a {
		t.Fatal("other bytes got a shared envelope")
	}
	if _, err := Decode(1_000_003, "chat.evt.resalice.conv.c1.message.posted", data); err == nil {
		t.Fatal("an event stored under another application's subject was accepted")
	}
}

// Consumers decoding at once share safely (run with -race).
func TestDecodeIsSafeForConcurrentConsumers(t *testing.T) {
	subject, data := storedEvent(t, "hello")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(2_000_000); seq < 2_000_200; seq++ {
				e, err := Decode(seq, subject, data)
				if err != nil || e.Seq != seq {
					t.Errorf("seq %d: %v", seq, err)
					return
				}
				if _, err := e.Payload(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
