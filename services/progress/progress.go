// Package progress prints how far a long operator run has come: done and
// total, rate, position and time left, at most once a second.
package progress

import (
	"fmt"
	"io"
	"time"
)

// Meter follows one run from position from to position to.
type Meter struct {
	w           io.Writer
	label, unit string
	from, to    uint64
	pos         uint64
	start, last time.Time
}

// New starts a meter; w nil prints nothing.
func New(w io.Writer, label, unit string, from, to uint64) *Meter {
	now := time.Now()
	return &Meter{w: w, label: label, unit: unit, from: from, to: to, pos: from, start: now, last: now}
}

// Update records the current position.
func (m *Meter) Update(pos uint64) {
	m.pos = pos
	if m.w == nil || time.Since(m.last) < time.Second {
		return
	}
	m.last = time.Now()
	m.print()
}

// Done prints the final line.
func (m *Meter) Done() {
	if m.w != nil && m.pos > m.from {
		m.print()
	}
}

// Rate is the units per second so far.
func (m *Meter) Rate() float64 {
	return float64(m.pos-m.from) / max(time.Since(m.start).Seconds(), 1e-9)
}

func (m *Meter) print() {
	done, total := m.pos-m.from, m.to-m.from
	rate := m.Rate()
	left := "0s"
	if m.to > m.pos {
		left = "?"
		if rate > 0 {
			left = time.Duration(float64(m.to-m.pos) / rate * float64(time.Second)).Round(time.Second).String()
		}
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(m.w, "%s: %d/%d %s (%.1f%%), %.0f %s/s, position %d, about %s left\n",
		m.label, done, total, m.unit, pct, rate, m.unit, m.pos, left)
}
