package projections

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStallWatchFailsOnlyWhenBehindWithoutMovingForTheBound(t *testing.T) {
	var pos, head uint64
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &StallWatch{After: 30 * time.Second, now: func() time.Time { return clock },
		Position: func(context.Context) (uint64, error) { return pos, nil },
		Head:     func(context.Context) (uint64, error) { return head, nil }}
	steps := []struct {
		name      string
		advance   time.Duration
		pos, head uint64
		stalled   bool
	}{
		{"idle at the head", 0, 10, 10, false},
		{"idle at the head for long", time.Hour, 10, 10, false},
		{"an event arrives", time.Second, 10, 11, false},
		{"behind, not yet for the bound", 29 * time.Second, 10, 11, false},
		{"behind without moving for the bound", time.Second, 10, 11, true},
		{"still stuck as the log grows", time.Minute, 10, 50, true},
		{"moves again, still behind", time.Second, 20, 50, false},
		{"moving while behind", 29 * time.Second, 40, 60, false},
		{"stuck again", 30 * time.Second, 40, 60, true},
		{"caught up", time.Second, 60, 60, false},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		pos, head = s.pos, s.head
		err := w.Check(context.Background())
		if (err != nil) != s.stalled {
			t.Fatalf("%s: got %v, want stalled %v", s.name, err, s.stalled)
		}
		if err != nil && !strings.Contains(err.Error(), "position 40") && !strings.Contains(err.Error(), "position 10") {
			t.Fatalf("%s: %q does not name the position", s.name, err)
		}
	}
}

func TestStallWatchReportsWhatItCannotRead(t *testing.T) {
	down := errors.New("nats: no responders")
	w := &StallWatch{After: time.Second,
		Position: func(context.Context) (uint64, error) { return 0, nil },
		Head:     func(context.Context) (uint64, error) { return 0, down }}
	if err := w.Check(context.Background()); !errors.Is(err, down) {
		t.Fatalf("got %v, want the head's error", err)
	}
}
