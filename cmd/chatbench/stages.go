package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// chatd times each message from its ingress to the end of each stage in
// the histogram chat_stage_seconds{stage} (services/jet). The benchmark
// reads it before and after a run; the difference is that run's messages.
const stageMetric = "chat_stage_seconds"

// chatdStages are the stages chatd times, in the order a message passes them.
var chatdStages = []string{"ingress_append", "moderation", "fanout"}

// stageTimes is one stage's p50 and p99 over a run (n observations).
type stageTimes struct {
	p50, p99 time.Duration
	n        int
}

// bucket is a cumulative histogram bucket: count observations ≤ le seconds.
type bucket struct {
	le    float64
	count float64
}

// histograms reads the buckets of chat_stage_seconds, by stage, from
// Prometheus' text format.
func histograms(r io.Reader) (map[string][]bucket, error) {
	out := map[string][]bucket{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := stageMetric + "_bucket{"
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			return nil, fmt.Errorf("metrics: %q", sc.Text())
		}
		stage, le := label(labels, "stage"), label(labels, "le")
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return nil, fmt.Errorf("metrics: le %q: %w", le, err)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: count %q: %w", value, err)
		}
		out[stage] = append(out[stage], bucket{bound, n})
	}
	for _, bs := range out {
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	}
	return out, sc.Err()
}

// label is the value of name in a label set like `a="x",b="y"`.
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// since is what after counted that before had not: one run's observations.
// Both are the same histogram, so the buckets line up.
func since(after, before []bucket) []bucket {
	out := make([]bucket, len(after))
	for i, b := range after {
		out[i] = b
		if i < len(before) && before[i].le == b.le {
			out[i].count -= before[i].count
		}
	}
	return out
}

// histQuantile estimates the q-quantile of cumulative buckets, linearly
// within the bucket it falls in (as PromQL's histogram_quantile does); a
// quantile in the +Inf bucket is the highest finite bound.
func histQuantile(bs []bucket, q float64) time.Duration {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return 0
	}
	rank := q * bs[len(bs)-1].count
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return seconds(lower)
			}
			within := 0.0
			if b.count > below {
				within = (rank - below) / (b.count - below)
			}
			return seconds(lower + (b.le-lower)*within)
		}
		lower, below = b.le, b.count
	}
	return seconds(lower)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// stageHistograms reads chatd's stage histograms now.
func (b *bench) stageHistograms() map[string][]bucket {
	resp, err := http.Get("http://" + b.srv.httpAddr + "/metrics")
	if err != nil {
		b.logf("  stage times: %v", err)
		return nil
	}
	defer resp.Body.Close()
	h, err := histograms(resp.Body)
	if err != nil {
		b.logf("  stage times: %v", err)
		return nil
	}
	return h
}

// stagesOver is each chatd stage's times between two readings.
func stagesOver(before, after map[string][]bucket) map[string]stageTimes {
	out := map[string]stageTimes{}
	for _, st := range chatdStages {
		d := since(after[st], before[st])
		if len(d) == 0 || d[len(d)-1].count == 0 {
			continue
		}
		out[st] = stageTimes{p50: histQuantile(d, 0.5), p99: histQuantile(d, 0.99), n: int(d[len(d)-1].count)}
	}
	return out
}

// stagesSection writes where the steady chat's latency goes: each point a
// message reaches, timed from its ingress, by the clients (from the
// delivery's createdAt, which is the ingress time) and by chatd's histogram.
func (r *report) stagesSection(p func(string, ...any)) {
	type row struct {
		stage, span, by string
		t               stageTimes
		ok              bool
	}
	for _, x := range []struct {
		name string
		res  *loadResult
	}{{"steady mixed chat", r.steady.median}, {"one_to_one", r.oneToOne.median}} {
		st := x.res
		if st == nil || len(st.sinceIngress) == 0 {
			continue
		}
		client := func(d []time.Duration) stageTimes {
			return stageTimes{p50: quantile(d, 0.5), p99: quantile(d, 0.99), n: len(d)}
		}
		rows := []row{{"client to ingress", "scheduled send → ingress (the posting's `at`)", "clients", client(st.toIngress), true}}
		for _, s := range []struct{ name, span string }{
			{"ingress_append", "ingress → posting appended to the log"},
			{"moderation", "ingress → decision appended"},
			{"fanout", "ingress → deliveries handed to the broker"},
		} {
			t, ok := st.stages[s.name]
			rows = append(rows, row{s.name, s.span, "chatd `chat_stage_seconds`", t, ok})
		}
		rows = append(rows, row{"broker write", "ingress → received by the recipient", "clients", client(st.sinceIngress), true})
		p("### Where the %s's latency goes (the median run's %d deliveries)", x.name, len(st.lat))
		p("")
		p("Each point after ingress is timed from the message's ingress, so a stage's own share is the step from the row above it.")
		p("chatd's times are estimated from its histogram's buckets (±25%%) and count each message once; the clients' are exact and count each delivery (a group message once per recipient), so the two can cross.")
		p("")
		p("| stage | span | measured by | p50 | p99 | step p50 | step p99 |")
		p("|---|---|---|---|---|---|---|")
		var prev stageTimes // the last point after ingress: the step's start
		for i, rw := range rows {
			if !rw.ok {
				p("| %s | %s | %s | not measured on this path | | | |", rw.stage, rw.span, rw.by)
				continue
			}
			step50, step99 := ms(rw.t.p50), ms(rw.t.p99)
			if i > 0 {
				step50, step99 = "+"+ms(max(0, rw.t.p50-prev.p50)), "+"+ms(max(0, rw.t.p99-prev.p99))
				prev = rw.t
			}
			p("| %s | %s | %s | %s | %s | %s | %s |", rw.stage, rw.span, rw.by, ms(rw.t.p50), ms(rw.t.p99), step50, step99)
		}
		p("")
		if st.gc.cycles > 0 {
			cost := ""
			if st.gc.cpu > 0 {
				cost = fmt.Sprintf("; the collector took %s of CPU, %s of it in mark assists, the marking done by the goroutines that allocate, messages' among them", ms(st.gc.cpu), ms(st.gc.assist))
			}
			if st.gc.live > 0 {
				cost += fmt.Sprintf("; its last collection found %.0f MiB of heap live, what each collection marks", float64(st.gc.live)/(1<<20))
			}
			p("Across every stage, chatd collected garbage %d times in the run (one every %v), its world stopped %s in all%s: while a collection marks, it takes a quarter of the CPU, and messages caught in one wait longer.",
				st.gc.cycles, (st.elapsed / time.Duration(st.gc.cycles)).Round(time.Millisecond), ms(st.gc.paused), cost)
			p("")
		}
	}
}

// gcTimes are chatd's garbage collections so far: how many, how long its
// world stopped for them in all (go_gc_duration_seconds), the CPU they
// took, in all and in mark assists (go_cpu_classes_gc_…), and the heap the
// last one found live (go_gc_heap_live_bytes); zero from a chatd that does
// not export them.
type gcTimes struct {
	cycles      int
	paused      time.Duration
	cpu, assist time.Duration
	live        int64
}

func (b *bench) gcTimes() gcTimes {
	const cycles, paused, cpu, assist, live = "go_gc_duration_seconds_count", "go_gc_duration_seconds_sum",
		"go_cpu_classes_gc_total_cpu_seconds_total", "go_cpu_classes_gc_mark_assist_cpu_seconds_total", "go_gc_heap_live_bytes"
	vs, err := b.metricValues(cycles, paused, cpu, assist, live)
	if err != nil {
		return gcTimes{}
	}
	return gcTimes{cycles: int(vs[cycles]), paused: seconds(vs[paused]), cpu: seconds(vs[cpu]),
		assist: seconds(vs[assist]), live: int64(vs[live])}
}

// since is what happened between before and g; live is g's, a level and not
// a count.
func (g gcTimes) since(before gcTimes) gcTimes {
	return gcTimes{cycles: g.cycles - before.cycles, paused: g.paused - before.paused,
		cpu: g.cpu - before.cpu, assist: g.assist - before.assist, live: g.live}
}
