package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
)

// recorder is a deliverer that keeps what it was sent and what was flushed.
type recorder struct {
	mu      sync.Mutex
	sent    []bridge.Delivery
	flushed int // len(sent) at the last Flush
}

func (r *recorder) Send(d bridge.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, d)
}

func (r *recorder) Flush(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed = len(r.sent)
	return nil
}

// Spreading deliveries over connections keeps every user's deliveries on one
// of them, in the order sent, and Flush returns only once every connection
// has flushed all of them.
func TestSpreadDelivererKeepsEachUsersOrderAndFlushesEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	parts := []*recorder{{}, {}, {}}
	s := bridge.NewSpreadDeliverer(ctx, []bridge.Deliverer{parts[0], parts[1], parts[2]})
	const users, each = 40, 50
	for i := range each {
		for u := range users {
			s.Send(bridge.Delivery{Topic: fmt.Sprintf("chat/user/u%d/messages", u), Payload: []byte(fmt.Sprint(i))})
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	owner := map[string]int{}
	next := map[string]int{}
	total := 0
	for i, p := range parts {
		p.mu.Lock()
		if p.flushed != len(p.sent) {
			t.Errorf("part %d flushed %d of its %d deliveries", i, p.flushed, len(p.sent))
		}
		if len(p.sent) == 0 {
			t.Errorf("part %d received nothing: deliveries are not spread", i)
		}
		for _, d := range p.sent {
			user := strings.Split(d.Topic, "/")[2]
			if o, ok := owner[user]; ok && o != i {
				t.Fatalf("%s's deliveries went through parts %d and %d", user, o, i)
			}
			owner[user] = i
			if got, want := string(d.Payload), fmt.Sprint(next[user]); got != want {
				t.Fatalf("%s received delivery %s where %s was due", user, got, want)
			}
			next[user]++
			total++
		}
		p.mu.Unlock()
	}
	if total != users*each {
		t.Fatalf("%d deliveries reached the parts, %d sent", total, users*each)
	}
}
