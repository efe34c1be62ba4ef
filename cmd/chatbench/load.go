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
	lost         int
	lat          []time.Duration
	timeline     []int
	step         time.Duration
	elapsed      time.Duration // first scheduled send to last delivery (or drain end)
	movedPerSec  float64       // MQTT messages into and out of the broker, per second
	serverCPU    float64       // cores used by chatd (and mosquitto) while the run lasted
	genCPU       float64       // cores used by this load generator
	dbCPU        float64       // cores used by PostgreSQL
	sendErrors   int
}

func (r *loadResult) q(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

func (r *loadResult) deliveredPerSec() float64 {
	return float64(r.unique) / r.elapsed.Seconds()
}

// passes says whether the run kept up: nothing lost or repeated, delivery
// rate near the offered one and p99 under the bound.
func (r *loadResult) passes(p99 time.Duration) bool {
	return r.lost == 0 && r.dups == 0 && r.sendErrors == 0 && r.q(0.99) < p99 &&
		float64(r.unique) >= 0.97*float64(r.expected)
}

// sender publishes message k.
type sender func(k int) (recipients int, err error)

// openLoop offers n = rate×duration messages on schedule from several
// goroutines and waits up to drain for their deliveries.
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
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) && b.rec.snapshot().unique < res.expected {
		time.Sleep(20 * time.Millisecond)
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
	res.lost = max(0, res.expected-res.unique)
	slices.Sort(res.lat)
	res.movedPerSec = (float64(b.rec.moved.Load()-moved0) + float64(res.sent)) / res.elapsed.Seconds()
	res.serverCPU = (b.serverCPU() - cpu0).Seconds() / wall
	res.genCPU = (selfCPU() - gen0).Seconds() / wall
	res.dbCPU = cpuSince(db0).Seconds() / wall
	return res
}
