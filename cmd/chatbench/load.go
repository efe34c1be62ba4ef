package main

import (
	"slices"
	"sync"
	"time"
)

// loadResult is one open-loop run: messages offered at a fixed rate, latency
// measured at every recipient from each message's scheduled send time.
type loadResult struct {
	name         string
	rate         float64
	duration     time.Duration
	sent         int
	expected     int
	unique, dups int
	late         int // delivered after the drain, during the final wait: latency, not loss
	lost         int // never delivered, even after the final wait: a bug
	lat          []time.Duration
	// toIngress and sinceIngress are each delivery's latency split at the
	// posting's ingress, sorted; stages is chatd's own stage times over
	// the run, when read (see stages.go).
	toIngress, sinceIngress []time.Duration
	stages                  map[string]stageTimes
	gc                      gcTimes // chatd's collections over the run, when read
	timeline                []int
	step                    time.Duration
	elapsed                 time.Duration // first scheduled send to last delivery (or drain end)
	movedPerSec             float64       // MQTT messages into and out of the broker, per second
	outPerSec               float64       // MQTT messages the broker delivered to the population, per second
	serverCPU               float64       // cores used by chatd (and mosquitto) while the run lasted
	genCPU                  float64       // cores used by this load generator
	dbCPU                   float64       // cores used by PostgreSQL
	sendErrors              int
}

func (r *loadResult) q(p float64) time.Duration { return quantile(r.lat, p) }

// quantile is the p-quantile of sorted durations (0 for none).
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func (r *loadResult) deliveredPerSec() float64 {
	return float64(r.unique) / r.elapsed.Seconds()
}

// passes says whether the run kept up: nothing lost or repeated, delivery
// rate near the offered one and p99 under the bound.
func (r *loadResult) passes(p99 time.Duration) bool {
	return r.lost == 0 && r.late == 0 && r.dups == 0 && r.sendErrors == 0 && r.q(0.99) < p99 &&
		float64(r.unique) >= 0.97*float64(r.expected)
}

// sender publishes message k.
type sender func(k int) (recipients int, err error)

// lateAndLost splits the deliveries still missing when the drain ended:
// those that came during the final wait are late, the rest are lost.
func lateAndLost(expected, byDrain, byFinalWait int) (late, lost int) {
	return max(0, min(byFinalWait, expected)-byDrain), max(0, expected-byFinalWait)
}

// waitFor waits until the current run has want unique deliveries or the
// deadline passes, and returns how many it has.
func (b *bench) waitFor(want int, deadline time.Time) int {
	for {
		n := b.rec.unique()
		if n >= want || !time.Now().Before(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openLoop offers n = rate×duration messages on schedule from several
// goroutines and waits up to drain for their deliveries, ending early once
// all came. What is still missing then gets a final bounded wait: what
// comes during it is late, what never comes is lost.
func (b *bench) openLoop(name string, rate float64, duration, drain time.Duration, send sender, setSender func(k int) int) *loadResult {
	n := int(rate * duration.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	res := &loadResult{name: name, rate: rate, duration: duration}
	b.run++
	tag := "b" + itoa(b.run) + "-"
	t0 := time.Now().Add(200 * time.Millisecond)
	b.rec.begin(tag, t0, interval, n)
	b.currentTag = tag
	for k := range n {
		b.rec.setSender(k, setSender(k))
	}
	cpu0, gen0, db0, moved0 := b.serverCPU(), selfCPU(), postgresCPU(), b.rec.moved.Load()
	const workers = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			expected, errs := 0, 0
			for k := w; k < n; k += workers {
				if d := time.Until(t0.Add(time.Duration(k) * interval)); d > 0 {
					time.Sleep(d)
				}
				recips, err := send(k)
				if err != nil {
					errs++
					continue
				}
				expected += recips
			}
			mu.Lock()
			res.expected += expected
			res.sendErrors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.sent = n - res.sendErrors
	byDrain := b.waitFor(res.expected, time.Now().Add(drain))
	byFinal := byDrain
	if byDrain < res.expected {
		b.logf("  %s: %d of %d deliveries missing after the drain; waiting up to %v more", name, res.expected-byDrain, res.expected, b.o.lateWait)
		byFinal = b.waitFor(res.expected, time.Now().Add(b.o.lateWait))
	}
	snap := b.rec.snapshot()
	b.rec.end()
	end := time.Now()
	if !snap.last.IsZero() && snap.unique >= res.expected {
		end = snap.last
	}
	res.elapsed = end.Sub(t0)
	wall := time.Since(t0).Seconds()
	res.unique, res.dups, res.lat, res.timeline, res.step = snap.unique, snap.duplicated, snap.lat, snap.timeline, snap.step
	res.late, res.lost = lateAndLost(res.expected, byDrain, max(byFinal, snap.unique))
	res.toIngress, res.sinceIngress = snap.toIngress, snap.sinceIngress
	slices.Sort(res.lat)
	slices.Sort(res.toIngress)
	slices.Sort(res.sinceIngress)
	out := float64(b.rec.moved.Load() - moved0)
	res.movedPerSec = (out + float64(res.sent)) / res.elapsed.Seconds()
	res.outPerSec = out / res.elapsed.Seconds()
	res.serverCPU = (b.serverCPU() - cpu0).Seconds() / wall
	res.genCPU = (selfCPU() - gen0).Seconds() / wall
	res.dbCPU = cpuSince(db0).Seconds() / wall
	return res
}
