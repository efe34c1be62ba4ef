package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// typingResult compares chatd's CPU over the same one_to_one chat without
// and with typing signals at a fixed rate, every member focusing its pair.
// chatd's CPU over one run moves by several percent between runs of the same
// load on this machine, more than the 5% to measure, so plain and typing
// runs alternate, and the figure is the median of the rounds' differences,
// each taken between two runs back to back. plain, with and their CPU are
// the median round's.
type typingResult struct {
	plain, with       *loadResult
	cpuPlain, cpuWith time.Duration
	extras            []float64     // each round's extra CPU, in order
	runs              []*loadResult // every round's runs, for the loss totals
	rate              float64       // typing signals offered per second
	sent              int64         // typing commands published
	delivered         int64         // typing.start/stop handed to the broker
}

// extra is the CPU typing added, as a fraction of the plain run's.
func (r *typingResult) extra() float64 { return cpuExtra(r.cpuPlain, r.cpuWith) }

func cpuExtra(plain, with time.Duration) float64 {
	return with.Seconds()/max(plain.Seconds(), 1e-9) - 1
}

// typingRound is one plain run and the typing run after it.
type typingRound struct {
	plain, with       *loadResult
	cpuPlain, cpuWith time.Duration
}

// medianRound is the round whose extra CPU is the median of rounds' (the
// lower middle one of an even number).
func medianRound(rounds []typingRound) typingRound {
	sorted := slices.Clone(rounds)
	slices.SortStableFunc(sorted, func(a, b typingRound) int {
		return cmp.Compare(cpuExtra(a.cpuPlain, a.cpuWith), cpuExtra(b.cpuPlain, b.cpuWith))
	})
	return sorted[(len(sorted)-1)/2]
}

// typingScenario runs the pairs' chat at msgRate, rounds times plain then
// with their members sending typing at typingRate in all, each pair's two
// members in turn; the rounds share dur, each run lasting at least 5 s.
func (b *bench) typingScenario(pairs []*conversation, msgRate, typingRate float64, rounds int, dur, drain time.Duration) (*typingResult, error) {
	for _, c := range pairs {
		for _, m := range c.members {
			if err := b.pop.conns[m].Publish("chat/cmd/"+b.pop.users[m]+"/focus", []byte(`{"conversationId":"`+c.id+`"}`), 1); err != nil {
				return nil, fmt.Errorf("focus: %w", err)
			}
		}
	}
	rounds = max(rounds, 1)
	run := max(dur/time.Duration(rounds), 5*time.Second)
	res := &typingResult{rate: typingRate}
	delivered0, err := b.liveDeliveries()
	if err != nil {
		return nil, err
	}
	var done []typingRound
	for i := range rounds {
		var r typingRound
		b.quiet()
		r.plain, r.cpuPlain = b.cpuOutsideGC(func() *loadResult {
			return b.chat("plain messages", pairs, nil, 0, msgRate, run, drain)
		})
		b.logf("  %s", r.plain.line())

		b.quiet()
		stop, typed := make(chan struct{}), make(chan int64)
		go func() { typed <- b.typeAt(pairs, typingRate, stop) }()
		if i == 0 {
			b.profileCPU("typing", run)
		}
		r.with, r.cpuWith = b.cpuOutsideGC(func() *loadResult {
			return b.chat("messages with typing", pairs, nil, 0, msgRate, run, drain)
		})
		close(stop)
		res.sent += <-typed
		b.logf("  %s", r.with.line())
		res.extras = append(res.extras, cpuExtra(r.cpuPlain, r.cpuWith))
		b.logf("  round %d: chatd CPU outside its collector %v without, %v with (%+.1f%%)", i+1,
			r.cpuPlain.Round(time.Millisecond), r.cpuWith.Round(time.Millisecond), 100*res.extras[i])
		done = append(done, r)
		res.runs = append(res.runs, r.plain, r.with)
	}
	delivered, err := b.liveDeliveries()
	if err != nil {
		return nil, err
	}
	res.delivered = delivered - delivered0
	m := medianRound(done)
	res.plain, res.with, res.cpuPlain, res.cpuWith = m.plain, m.with, m.cpuPlain, m.cpuWith
	b.logf("  %d typing signals sent (%.0f/s offered), %d delivered; chatd CPU %v without, %v with in the median round (%+.1f%%)",
		res.sent, typingRate, res.delivered, res.cpuPlain.Round(time.Millisecond), res.cpuWith.Round(time.Millisecond), 100*res.extra())
	return res, nil
}

// cpuOutsideGC runs fn and returns the server's CPU over it, less what
// chatd's garbage collector took: one collection (about 0.3 s of CPU with
// 10,000 clients connected) falling in one run of a pair and not in the
// other moves a few seconds' CPU by over 10%, and typing's own share of the
// collections is far below that.
func (b *bench) cpuOutsideGC(fn func() *loadResult) (*loadResult, time.Duration) {
	gc0, cpu0 := b.gcTimes(), b.serverCPU()
	res := fn()
	cpu := b.serverCPU() - cpu0
	res.gc = b.gcTimes().since(gc0)
	return res, cpu - res.gc.cpu
}

// typeAt publishes typing signals at rate, in 10 ms ticks, until stop.
func (b *bench) typeAt(pairs []*conversation, rate float64, stop <-chan struct{}) int64 {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var sent int64
	for k := 0; ; {
		select {
		case <-stop:
			return sent
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds() * rate)
		for ; k < due; k++ {
			c := pairs[k%len(pairs)]
			m := c.members[(k/len(pairs))%len(c.members)]
			body := `{"conversationId":"` + c.id + `","typing":` + strconv.FormatBool(k%3 != 2) + `}`
			if b.pop.conns[m].Publish("chat/cmd/"+b.pop.users[m]+"/typing", []byte(body), 0) == nil {
				sent++
			}
		}
	}
}

// liveDeliveries reads chatd's count of typing and presence deliveries.
func (b *bench) liveDeliveries() (int64, error) {
	v, err := b.metricValue("chat_live_deliveries_total")
	return int64(v), err
}
