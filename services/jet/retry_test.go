package jet

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

var quiet = slog.New(slog.DiscardHandler)

// retried reads chat_consumer_retries_total for name.
func retried(t *testing.T, name string) float64 {
	t.Helper()
	var m dto.Metric
	if err := retries.WithLabelValues(name).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestBackoffRetriesUntilSuccessCountingEachRetry(t *testing.T) {
	b := Backoff{Name: "test-retry-success", First: time.Microsecond, Log: quiet}
	before := retried(t, b.Name)
	calls := 0
	err := b.Retry(context.Background(), "step", func() error {
		calls++
		if calls < 4 {
			return errors.New("away")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("Retry = %v after %d calls, want nil after 4", err, calls)
	}
	if got := retried(t, b.Name) - before; got != 3 {
		t.Fatalf("counted %v retries, want 3", got)
	}
}

// A pause of an hour ends when the context does.
func TestBackoffStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := Backoff{Name: "test-retry-cancel", First: time.Hour, Log: quiet}
	failed := make(chan struct{})
	go func() { <-failed; cancel() }()
	calls := 0
	err := b.Retry(ctx, "step", func() error {
		calls++
		if calls == 1 {
			close(failed)
		}
		return errors.New("away")
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Retry = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestBackoffDoublesUpToItsCap(t *testing.T) {
	b := Backoff{First: 20 * time.Millisecond, Max: 2 * time.Second}
	want := []time.Duration{20, 40, 80, 160, 320, 640, 1280, 2000, 2000}
	for i, w := range want {
		if got := b.pause(i); got != w*time.Millisecond {
			t.Errorf("pause(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{}).pause(0); got != 50*time.Millisecond {
		t.Errorf("default first pause %v, want 50ms", got)
	}
	if got := (Backoff{}).pause(1000); got != 5*time.Second {
		t.Errorf("default cap %v, want 5s", got)
	}
}
