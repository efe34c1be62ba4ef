package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// chatLoad builds the steady scenario's conversations: pairs one_to_one
// conversations on the first users and groups of 2 to 50 members after them.
func (b *bench) chatLoad() (pairs, groups []*conversation, err error) {
	var kinds []string
	var members [][]int
	for i := range b.o.pairs {
		kinds = append(kinds, "one_to_one")
		members = append(members, []int{2 * i, 2*i + 1})
	}
	next := 2 * b.o.pairs
	for i := range b.o.groups {
		size := 2 + (i*17)%49
		if next+size > len(b.pop.users) {
			break
		}
		g := make([]int, size)
		for j := range g {
			g[j] = next + j
		}
		next += size
		kinds = append(kinds, "group")
		members = append(members, g)
	}
	all, err := b.pop.createAll(kinds, members)
	if err != nil {
		return nil, nil, err
	}
	return all[:b.o.pairs], all[b.o.pairs:], nil
}

// picker chooses message k's conversation and sender: a share of the
// messages in groups, the rest in pairs, senders rotating through the
// members.
func picker(pairs, groups []*conversation, groupShare float64) func(k int) (*conversation, int) {
	return func(k int) (*conversation, int) {
		var c *conversation
		if len(groups) > 0 && float64(k%100) < groupShare*100 {
			c = groups[(k/100+k)%len(groups)]
		} else {
			c = pairs[k%len(pairs)]
		}
		return c, c.members[(k/len(pairs))%len(c.members)]
	}
}

// chat offers messages over the given conversations (see picker).
func (b *bench) chat(name string, pairs, groups []*conversation, groupShare, rate float64, dur, drain time.Duration) *loadResult {
	pick := picker(pairs, groups, groupShare)
	tag := func() string { return b.currentTag }
	return b.openLoop(name, rate, dur, drain,
		func(k int) (int, error) {
			c, s := pick(k)
			return len(c.members) - 1, b.pop.send(s, c, "k"+tag()+itoa(k), tag()+itoa(k))
		},
		func(k int) int { _, s := pick(k); return s })
}

// chatStaged is chat with chatd's stage times over the run.
func (b *bench) chatStaged(name string, pairs, groups []*conversation, groupShare, rate float64, dur, drain time.Duration) *loadResult {
	before, gcBefore := b.stageHistograms(), b.gcTimes()
	res := b.chat(name, pairs, groups, groupShare, rate, dur, drain)
	res.gc = b.gcTimes().since(gcBefore)
	if before != nil {
		if after := b.stageHistograms(); after != nil {
			res.stages = stagesOver(before, after)
		}
	}
	return res
}

// saturate raises the offered rate step by step over pairs until a step
// fails, then narrows the gap between the last passing rate and the failing
// one (narrowSteps times, halving it each time), and returns every step in
// the order run.
func (b *bench) saturate(name string, rates []float64, step func(rate float64) *loadResult) []*loadResult {
	var out []*loadResult
	run := func(r float64) bool {
		res := step(r)
		res.name = fmt.Sprintf("%s %.0f/s", name, r)
		out = append(out, res)
		b.logf("  %s", res.line())
		return res.passes(b.o.saturationP99)
	}
	narrowRates(rates, run)
	return out
}

// narrowSteps is how many steps narrow the gap after the first failing one:
// two find the sustained rate within a quarter of a step.
const narrowSteps = 2

// narrowRates runs the rising rates until one fails, then narrowSteps rates
// halfway between the highest passing and the lowest failing one (rounded
// to 100/s; from 0 when even the first fails), and returns the rates run
// in order.
func narrowRates(rates []float64, run func(float64) bool) []float64 {
	var ran []float64
	pass, fail := 0.0, 0.0
	for _, r := range rates {
		ran = append(ran, r)
		if !run(r) {
			fail = r
			break
		}
		pass = r
	}
	if fail == 0 {
		return ran
	}
	for range narrowSteps {
		mid := math.Round((pass+fail)/2/100) * 100
		if mid <= pass || mid >= fail {
			break
		}
		ran = append(ran, mid)
		if run(mid) {
			pass = mid
		} else {
			fail = mid
		}
	}
	return ran
}

// saturated reports whether one of the steps failed: if none did, the
// highest one is only a floor of what the path sustains.
func saturated(steps []*loadResult, p99 time.Duration) bool {
	for _, s := range steps {
		if !s.passes(p99) {
			return true
		}
	}
	return false
}

// best is the highest passing step.
func best(steps []*loadResult, p99 time.Duration) *loadResult {
	var b *loadResult
	for _, s := range steps {
		if s.passes(p99) && (b == nil || s.rate > b.rate) {
			b = s
		}
	}
	return b
}
