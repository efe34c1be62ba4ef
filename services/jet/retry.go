package jet

import (
	"context"
	"log/slog"
	"time"
)

// Backoff retries operations that fail for reasons that pass (a server
// away, a connection lost): until they succeed or ctx ends, pausing First,
// then twice as long each time up to Max. Every retry is counted in
// chat_consumer_retries_total under Name and logged. It is the one retry
// loop of consumers, the projector and the bridge; what can never succeed
// is the caller's to tell apart (and park) before it gets here.
type Backoff struct {
	Name  string        // the consumer or component, for the metric and the log
	First time.Duration // first pause; default 50ms
	Max   time.Duration // longest pause; default 5s
	Log   *slog.Logger
}

// Retry runs fn until it returns nil, or until ctx ends, then returns ctx's
// error. what names the operation in the log ("append failed, retrying");
// attrs are added to each log line.
func (b Backoff) Retry(ctx context.Context, what string, fn func() error, attrs ...any) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := b.pause(attempt)
		retries.WithLabelValues(b.Name).Inc()
		b.Log.Warn(what+" failed, retrying", append(attrs, "consumer", b.Name, "err", err, "in", wait)...)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// pause is the wait after the failure of attempt (0 for the first).
func (b Backoff) pause(attempt int) time.Duration {
	first, max := b.First, b.Max
	if first <= 0 {
		first = 50 * time.Millisecond
	}
	if max <= 0 {
		max = 5 * time.Second
	}
	d := first
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
