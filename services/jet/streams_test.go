package jet_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// The log's duplicate window is the default unless set, and a deployment
// that declared another keeps the one it sets now: the declared stream is
// updated in place at the next start.
func TestTheLogsDuplicateWindowIsTheDeclaredOne(t *testing.T) {
	if got := jet.EventStreamConfig(jet.StreamOptions{}).Duplicates; got != jet.DefaultDuplicateWindow {
		t.Errorf("default window %v, want %v", got, jet.DefaultDuplicateWindow)
	}
	js := testkit.NATS(t, jet.StreamOptions{DuplicateWindow: 2 * time.Minute})
	ctx := context.Background()
	if err := jet.EnsureStreams(ctx, js, jet.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Duplicates; got != jet.DefaultDuplicateWindow {
		t.Errorf("a stream declared with 2m, then started with the default, keeps %v; want %v", got, jet.DefaultDuplicateWindow)
	}
}
