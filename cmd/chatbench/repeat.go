package main

import (
	"slices"
	"time"
)

// repeated is one latency scenario run several times: the runs in order,
// and the one the report shows, the run whose p99 is the median.
type repeated struct {
	runs   []*loadResult
	median *loadResult
	lo, hi time.Duration // the lowest and highest p99 of the runs
}

// medianRun picks the run whose p99 is the median of the runs' (the lower
// of the middle two for an even count) and the spread of their p99s.
func medianRun(runs []*loadResult) repeated {
	r := repeated{runs: runs}
	if len(runs) == 0 {
		return r
	}
	byP99 := slices.Clone(runs)
	slices.SortStableFunc(byP99, func(a, b *loadResult) int { return int(a.q(0.99) - b.q(0.99)) })
	r.median = byP99[(len(byP99)-1)/2]
	r.lo, r.hi = byP99[0].q(0.99), byP99[len(byP99)-1].q(0.99)
	return r
}

// spread is the highest p99 over the lowest (1 for a single run).
func (r repeated) spread() float64 {
	if r.lo <= 0 {
		return 1
	}
	return float64(r.hi) / float64(r.lo)
}
