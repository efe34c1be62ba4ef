package projections

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	stalledGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chat_projector_stalled",
		Help: "1 while the log has events past the projector's position and that position has not moved for the stall bound.",
	})
	lagGauge = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chat_projector_lag_events",
		Help: "Events in the log past the projector's position.",
	})
)

// StallWatch tells a projector that stopped advancing from one that is
// merely busy: it is stalled when the log holds events past its position and
// the position has not moved for After. An idle projector at the log's head
// is never stalled, however long it waits.
type StallWatch struct {
	// Position is the projector's applied position: its watermark in the
	// same process, its checkpoint row when it runs elsewhere.
	Position func(context.Context) (uint64, error)
	// Head is the position of the newest event in the log.
	Head  func(context.Context) (uint64, error)
	After time.Duration
	now   func() time.Time // the clock; tests set it

	mu     sync.Mutex
	pos    uint64
	behind bool      // the last sample was behind the head
	since  time.Time // since when the samples show pos, behind, unmoved
	sample bool      // the fields above hold a sample
}

// Check samples the positions and reports an error naming them while the
// projector is stalled. It also updates the metrics.
func (w *StallWatch) Check(ctx context.Context) error {
	// The head first: an event appended between the two reads then cannot
	// look like lag.
	head, err := w.Head(ctx)
	if err != nil {
		return fmt.Errorf("log head: %w", err)
	}
	pos, err := w.Position(ctx)
	if err != nil {
		return fmt.Errorf("projector position: %w", err)
	}
	now := time.Now()
	if w.now != nil {
		now = w.now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	behind := pos < head
	if !w.sample || pos != w.pos || !behind || !w.behind {
		w.since = now // moved, at the head, or first seen behind: the clock starts again
	}
	w.pos, w.behind, w.sample = pos, behind, true
	lagGauge.Set(float64(head - min(pos, head)))
	if behind && now.Sub(w.since) >= w.After {
		stalledGauge.Set(1)
		return fmt.Errorf("stalled at position %d for %s while the log is at %d", pos, now.Sub(w.since).Round(time.Second), head)
	}
	stalledGauge.Set(0)
	return nil
}

// Run checks every tenth of After (at least every 5 s), so the metrics stay
// current without anyone asking for readiness, until ctx ends.
func (w *StallWatch) Run(ctx context.Context) error {
	every := min(max(w.After/10, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			_ = w.Check(ctx) // the metric and the next readiness answer carry the outcome
		}
	}
}
