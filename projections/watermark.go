package projections

import (
	"context"
	"sync"
)

// Watermark is the position the read model includes, with a way to wait for
// it. The REST API waits on it so a write's response can be read at once.
type Watermark struct {
	mu  sync.Mutex
	pos uint64
	ch  chan struct{} // closed and replaced on every advance
}

// NewWatermark returns a watermark at pos.
func NewWatermark(pos uint64) *Watermark { return &Watermark{pos: pos, ch: make(chan struct{})} }

// Position is the current position.
func (w *Watermark) Position() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pos
}

// Advance moves the watermark forward and wakes waiters.
func (w *Watermark) Advance(pos uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos <= w.pos {
		return
	}
	w.pos = pos
	close(w.ch)
	w.ch = make(chan struct{})
}

// Wait blocks until the position reaches pos or ctx ends; it reports whether
// the position was reached.
func (w *Watermark) Wait(ctx context.Context, pos uint64) bool {
	for {
		w.mu.Lock()
		cur, ch := w.pos, w.ch
		w.mu.Unlock()
		if cur >= pos {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
