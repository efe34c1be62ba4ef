package main

import (
	"fmt"
	"strconv"
	"time"
)

// typingResult compares chatd's CPU over the same one_to_one chat without
// and with typing signals at a fixed rate, every member focusing its pair.
type typingResult struct {
	plain, with       *loadResult
	cpuPlain, cpuWith time.Duration
	rate              float64 // typing signals offered per second
	sent              int64   // typing commands published
	delivered         int64   // typing.start/stop handed to the broker
}

// extra is the CPU typing added, as a fraction of the plain run's.
func (r *typingResult) extra() float64 {
	return r.cpuWith.Seconds()/max(r.cpuPlain.Seconds(), 1e-9) - 1
}

// typingScenario runs the pairs' chat at msgRate twice: plain, then with
// their members sending typing at typingRate in all, each pair's two members
// in turn.
func (b *bench) typingScenario(pairs []*conversation, msgRate, typingRate float64, dur, drain time.Duration) (*typingResult, error) {
	for _, c := range pairs {
		for _, m := range c.members {
			if err := b.pop.conns[m].Publish("chat/cmd/"+b.pop.users[m]+"/focus", []byte(`{"conversationId":"`+c.id+`"}`), 1); err != nil {
				return nil, fmt.Errorf("focus: %w", err)
			}
		}
	}
	res := &typingResult{rate: typingRate}
	b.quiet()
	cpu0 := b.serverCPU()
	res.plain = b.chat("plain messages", pairs, nil, 0, msgRate, dur, drain)
	res.cpuPlain = b.serverCPU() - cpu0
	b.logf("  %s", res.plain.line())

	b.quiet()
	delivered0, err := b.liveDeliveries()
	if err != nil {
		return nil, err
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		res.sent = b.typeAt(pairs, typingRate, stop)
	}()
	b.profileCPU("typing", dur)
	cpu0 = b.serverCPU()
	res.with = b.chat("messages with typing", pairs, nil, 0, msgRate, dur, drain)
	res.cpuWith = b.serverCPU() - cpu0
	close(stop)
	<-done
	delivered, err := b.liveDeliveries()
	if err != nil {
		return nil, err
	}
	res.delivered = delivered - delivered0
	b.logf("  %s", res.with.line())
	b.logf("  %d typing signals sent (%.0f/s offered), %d delivered; chatd CPU %v without, %v with (%+.1f%%)",
		res.sent, typingRate, res.delivered, res.cpuPlain.Round(time.Millisecond), res.cpuWith.Round(time.Millisecond), 100*res.extra())
	return res, nil
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
