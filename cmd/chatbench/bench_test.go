package main

import (
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMissingDeliveriesThatComeDuringTheFinalWaitAreLateTheRestLost(t *testing.T) {
	for _, c := range []struct {
		name                       string
		expected, byDrain, byFinal int
		wantLate, wantLost         int
	}{
		{"all by the drain", 100, 100, 100, 0, 0},
		{"some late, none lost", 100, 90, 100, 10, 0},
		{"some late, some lost", 100, 90, 97, 7, 3},
		{"none came after the drain", 100, 90, 90, 0, 10},
		{"nothing at all", 100, 0, 0, 0, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			late, lost := lateAndLost(c.expected, c.byDrain, c.byFinal)
			if late != c.wantLate || lost != c.wantLost {
				t.Errorf("late %d lost %d, want %d and %d", late, lost, c.wantLate, c.wantLost)
			}
		})
	}
}

func runWithP99(name string, p99 time.Duration) *loadResult {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = p99 * time.Duration(i) / 99
	}
	return &loadResult{name: name, lat: lat}
}

func TestTheMedianRunIsTheOneWithTheMedianP99AndTheSpreadSpansAllRuns(t *testing.T) {
	runs := []*loadResult{runWithP99("a", 30*time.Millisecond), runWithP99("b", 10*time.Millisecond), runWithP99("c", 20*time.Millisecond)}
	r := medianRun(runs)
	if r.median.name != "c" {
		t.Errorf("median run %s, want c", r.median.name)
	}
	if r.lo != 10*time.Millisecond || r.hi != 30*time.Millisecond || r.spread() != 3 {
		t.Errorf("spread %v to %v (%.2f), want 10ms to 30ms (3)", r.lo, r.hi, r.spread())
	}
	if got := medianRun(runs[:2]).median.name; got != "b" {
		t.Errorf("median of two runs %s, want the lower, b", got)
	}
	if one := medianRun(runs[:1]); one.median.name != "a" || one.spread() != 1 {
		t.Errorf("one run: median %s spread %.2f, want a and 1", one.median.name, one.spread())
	}
}

const metricsBefore = `# HELP chat_stage_seconds x
# TYPE chat_stage_seconds histogram
chat_stage_seconds_bucket{stage="fanout",le="0.001"} 10
chat_stage_seconds_bucket{stage="fanout",le="0.002"} 10
chat_stage_seconds_bucket{stage="fanout",le="0.004"} 10
chat_stage_seconds_bucket{stage="fanout",le="+Inf"} 10
chat_stage_seconds_sum{stage="fanout"} 0.005
chat_stage_seconds_count{stage="fanout"} 10
chat_other_bucket{le="1"} 5
`

const metricsAfter = `chat_stage_seconds_bucket{stage="fanout",le="0.001"} 10
chat_stage_seconds_bucket{stage="fanout",le="0.002"} 60
chat_stage_seconds_bucket{stage="fanout",le="0.004"} 109
chat_stage_seconds_bucket{stage="fanout",le="+Inf"} 110
chat_stage_seconds_bucket{stage="moderation",le="0.001"} 4
chat_stage_seconds_bucket{stage="moderation",le="+Inf"} 4
`

func TestStageTimesAreTheRunsOwnObservationsInterpolatedWithinBuckets(t *testing.T) {
	before, err := histograms(strings.NewReader(metricsBefore))
	if err != nil {
		t.Fatal(err)
	}
	after, err := histograms(strings.NewReader(metricsAfter))
	if err != nil {
		t.Fatal(err)
	}
	st := stagesOver(before, after)
	f, ok := st["fanout"]
	if !ok || f.n != 100 {
		t.Fatalf("fanout %+v, want 100 observations of this run", f)
	}
	// 50 of the run's 100 fall in (1 ms, 2 ms]: the median is that bucket's top.
	if f.p50 != 2*time.Millisecond {
		t.Errorf("p50 %v, want 2ms", f.p50)
	}
	// The 99th is the 49th of 49 in (2 ms, 4 ms]: its top.
	if f.p99 != 4*time.Millisecond {
		t.Errorf("p99 %v, want 4ms", f.p99)
	}
	if m := st["moderation"]; m.n != 4 || m.p50 != 500*time.Microsecond {
		t.Errorf("moderation %+v, want 4 observations, p50 0.5ms", m)
	}
	if _, ok := st["ingress_append"]; ok {
		t.Error("a stage chatd never observed has times")
	}
}

func TestAQuantileInTheOpenBucketIsTheHighestBound(t *testing.T) {
	bs := []bucket{{0.001, 1}, {0.002, 1}, {inf(), 10}}
	if q := histQuantile(bs, 0.99); q != 2*time.Millisecond {
		t.Errorf("%v, want 2ms", q)
	}
}

func TestADeliveryCarriesItsIngressTime(t *testing.T) {
	at, ok := createdAt([]byte(`{"type":"message.new","data":{"content":"b1-7","createdAt":"2026-11-21T10:00:00.123456789Z","seq":3}}`))
	if !ok || at != time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC) {
		t.Errorf("createdAt %v %v", at, ok)
	}
	if _, ok := createdAt([]byte(`{"type":"message.new","data":{"content":"b1-7"}}`)); ok {
		t.Error("a relay delivery has no ingress time")
	}
}

func inf() float64 { return math.Inf(1) }

func TestSaturationNarrowsTheGapAfterTheFirstFailingStep(t *testing.T) {
	for _, c := range []struct {
		limit float64 // the highest rate that passes
		want  []float64
	}{
		{20000, []float64{2000, 5000, 8000, 11000}},
		{3900, []float64{2000, 5000, 3500, 4300}},
		{3000, []float64{2000, 5000, 3500, 2800}},
		{2500, []float64{2000, 5000, 3500, 2800}},
		{1000, []float64{2000, 1000, 1500}},
		{0, []float64{2000, 1000, 500}},
	} {
		got := narrowRates([]float64{2000, 5000, 8000, 11000}, func(r float64) bool { return r <= c.limit })
		if !slices.Equal(got, c.want) {
			t.Errorf("passing up to %.0f/s: ran %v, want %v", c.limit, got, c.want)
		}
	}
}

func TestTheBestStepIsTheHighestRateThatPassed(t *testing.T) {
	pass := func(rate float64) *loadResult {
		return &loadResult{rate: rate, expected: 10, unique: 10, lat: []time.Duration{time.Millisecond}}
	}
	fail := &loadResult{rate: 5000, expected: 10, unique: 10, lost: 1, lat: []time.Duration{time.Millisecond}}
	steps := []*loadResult{pass(2000), fail, pass(3500), pass(2800)}
	if got := best(steps, 100*time.Millisecond); got == nil || got.rate != 3500 {
		t.Errorf("best = %v, want the 3500/s step", got)
	}
	// Steps that all passed saturated nothing: their best is a floor.
	if !saturated(steps, 100*time.Millisecond) || saturated([]*loadResult{pass(2000), pass(4000)}, 100*time.Millisecond) {
		t.Error("saturated: want true with a failed step, false when every step passed")
	}
}

// Against a relay that never failed a step, the relay's figures are floors
// and the ratios to them ceilings: the MQTT-ratio goal is not shown as met
// on one. Once a relay step fails, the figures are plain.
func TestSaturationAgainstAnUnsaturatedRelayIsBounded(t *testing.T) {
	step := func(rate float64, ok bool) *loadResult {
		s := &loadResult{rate: rate, movedPerSec: 4 * rate, expected: 10, unique: 10, lat: []time.Duration{time.Millisecond}}
		if !ok {
			s.lost = 1
		}
		return s
	}
	type line struct {
		base, ratio string
		met         bool
	}
	// mqttRow is the "MQTT messages moved" row of r's saturation rows.
	mqttRow := func(r *report) (l line) {
		r.saturationRows(func(fig, _, base, ratio, _ string, ok bool) {
			if strings.HasPrefix(fig, "saturation: MQTT messages moved") {
				l = line{base, ratio, ok}
			}
		})
		return l
	}
	chat := []*loadResult{step(2000, true), step(4000, false), step(3000, true), step(3500, false)}
	open := &report{satSteps: chat, relaySteps: []*loadResult{step(2000, true), step(4000, true)}}
	if l := mqttRow(open); l.base != "≥ 16000" || l.ratio != "≤ 0.75" || l.met {
		t.Errorf("unsaturated relay: MQTT row %+v, want base ≥ 16000, ratio ≤ 0.75, not met", l)
	}
	closed := &report{satSteps: chat, relaySteps: []*loadResult{step(2000, true), step(4000, true), step(6000, false)}}
	if l := mqttRow(closed); l.base != "16000" || l.ratio != "0.75" || !l.met {
		t.Errorf("saturated relay: MQTT row %+v, want base 16000, ratio 0.75, met", l)
	}
}

// One scrape gives every metric asked for, labels as written; a missing one
// is absent, a malformed value an error.
func TestMetricValuesReadOneScrape(t *testing.T) {
	body := "# HELP go_gc_heap_live_bytes x\ngo_gc_heap_live_bytes 1.5e+08\n" +
		"go_gc_duration_seconds_count 7\nchat_stage_seconds_count{stage=\"fanout\"} 12\ngo_gc_duration_seconds_sum bad\n"
	scrapes := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		scrapes++
		_, _ = io.WriteString(w, body)
	}))
	defer ts.Close()
	b := &bench{srv: &server{httpAddr: strings.TrimPrefix(ts.URL, "http://")}}
	vs, err := b.metricValues("go_gc_heap_live_bytes", "go_gc_duration_seconds_count", `chat_stage_seconds_count{stage="fanout"}`, "absent")
	if err != nil || scrapes != 1 {
		t.Fatalf("err %v after %d scrapes, want none after 1", err, scrapes)
	}
	want := map[string]float64{"go_gc_heap_live_bytes": 1.5e8, "go_gc_duration_seconds_count": 7, `chat_stage_seconds_count{stage="fanout"}`: 12}
	if !maps.Equal(vs, want) {
		t.Errorf("values %v, want %v", vs, want)
	}
	if _, err := b.metricValues("go_gc_duration_seconds_sum"); err == nil {
		t.Error("a malformed value was read without an error")
	}
}

func TestTypingIsTheMedianRoundsAndEveryRoundsLossesCount(t *testing.T) {
	run := func(lost int) *loadResult { return &loadResult{expected: 10, unique: 10 - lost, lost: lost} }
	rounds := []typingRound{
		{plain: run(0), with: run(0), cpuPlain: 10 * time.Second, cpuWith: 12 * time.Second},         // +20%
		{plain: run(0), with: run(1), cpuPlain: 10 * time.Second, cpuWith: 10 * time.Second},         // 0%
		{plain: run(0), with: run(0), cpuPlain: 10 * time.Second, cpuWith: 10300 * time.Millisecond}, // +3%
	}
	m := medianRound(rounds)
	if got := cpuExtra(m.cpuPlain, m.cpuWith); got < 0.029 || got > 0.031 {
		t.Errorf("median round's extra CPU %.3f, want 0.03", got)
	}
	if m := medianRound(rounds[:2]); m.cpuWith != 10*time.Second {
		t.Errorf("of two rounds, the median is the lower: got the one with %v", m.cpuWith)
	}
	ty := &typingResult{plain: m.plain, with: m.with}
	for _, r := range rounds {
		ty.runs = append(ty.runs, r.plain, r.with)
	}
	if _, lost, _ := (&report{typing: ty}).lossTotals(); lost != 1 {
		t.Errorf("%d lost over the typing rounds, want the 1 of a round that is not the median", lost)
	}
}
