package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report gathers a run's figures and writes them next to their baselines.
type report struct {
	broker  string
	quick   bool
	started time.Time
	elapsed time.Duration
	svgName string

	clients, pairs int
	repeat         int
	connectTime    time.Duration
	rssIdle        int64
	rssPerClient   float64
	// What each idle client holds in chatd after a collection, KiB:
	// goroutine stacks and live heap (embedded broker only).
	stacksPerClient, heapPerClient float64
	rssAfterSteady                 int64
	mosquittoRSS                   int64

	relay       repeated // one_to_one shape: the one_to_one figure's baseline
	relayShaped repeated // the steady chat's fan-out shape: its baseline
	relaySteps  []*loadResult
	jsAppend    float64
	jsRead      float64
	copyRate    float64

	steady       repeated
	oneToOne     repeated
	groups       int
	groupMembers int
	satSteps     []*loadResult
	receipts     *receiptsResult
	typing       *typingResult

	announce *announceResult

	replay      *replayResult
	list        *listResult
	genCPUTotal time.Duration
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	mode := "full"
	if r.quick {
		mode = "quick"
	}
	p("# chatd benchmark, %s", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("")
	p("%s run, %s broker, %d CPUs, %s, %s in all. Every product figure sits next to a raw baseline measured in this run on this machine.",
		mode, r.broker, runtime.NumCPU(), runtime.Version(), r.elapsed.Round(time.Second))
	p("")
	p("| figure | product | raw baseline | ratio | goal | met |")
	p("|---|---|---|---|---|---|")
	st, rs, oo, ro := r.steady.median, r.relayShaped.median, r.oneToOne.median, r.relay.median
	row := func(fig, prod, base, ratio, goal string, ok bool) {
		m := "no"
		if ok {
			m = "yes"
		}
		p("| %s | %s | %s | %s | %s | %s |", fig, prod, base, ratio, goal, m)
	}
	runs := ""
	if r.repeat > 1 {
		runs = fmt.Sprintf(" (median of %d runs)", r.repeat)
	}
	row(fmt.Sprintf("one_to_one p99 publish-to-delivery at %.0f msg/s, %d clients connected%s", oo.rate, r.clients, runs), ms(oo.q(0.99)),
		ms(ro.q(0.99))+" (relay, one_to_one shape)", ratio(oo.q(0.99).Seconds(), ro.q(0.99).Seconds()), "< 5 ms", oo.q(0.99) < 5*time.Millisecond)
	// Through Mosquitto every message crosses one more process and its
	// sockets: the goal there is 3 ms.
	p50Goal, p50Label := 1500*time.Microsecond, "< 1.5 ms"
	if r.broker == "mosquitto" {
		p50Goal, p50Label = 3*time.Millisecond, "< 3 ms (Mosquitto)"
	}
	row("one_to_one p50", ms(oo.q(0.5)), ms(ro.q(0.5))+" (relay)", ratio(oo.q(0.5).Seconds(), ro.q(0.5).Seconds()), p50Label, oo.q(0.5) < p50Goal)
	row(fmt.Sprintf("steady mixed chat p99 at %.0f msg/s (groups 2–50), %.0f MQTT msg/s delivered%s", st.rate, st.outPerSec, runs), ms(st.q(0.99)),
		fmt.Sprintf("%s (relay, same fan-out, %.0f MQTT msg/s delivered)", ms(rs.q(0.99)), rs.outPerSec),
		ratio(st.q(0.99).Seconds(), rs.q(0.99).Seconds()), "< 2× raw relay", rs.q(0.99) > 0 && st.q(0.99) < 2*rs.q(0.99))
	row("steady mixed chat p50", ms(st.q(0.5)), ms(rs.q(0.5))+" (relay, same fan-out)", ratio(st.q(0.5).Seconds(), rs.q(0.5).Seconds()), "", true)
	if r.repeat > 1 {
		// The relays' own spread, in the same runs, is what the machine
		// alone moved between them.
		row(fmt.Sprintf("run-to-run spread of p99 over %d runs: steady / one_to_one (max ÷ min)", r.repeat),
			fmt.Sprintf("%.2f / %.2f", r.steady.spread(), r.oneToOne.spread()),
			fmt.Sprintf("%.2f / %.2f (the relays, same shapes)", r.relayShaped.spread(), r.relay.spread()), "", "within 2×",
			r.steady.spread() <= 2 && r.oneToOne.spread() <= 2)
	}
	satRate := r.saturationRows(row)
	row("appends to the log/s at saturation (2 events per message)", fmt.Sprintf("%.0f", 2*satRate),
		fmt.Sprintf("%.0f (JetStream async)", r.jsAppend), ratio(2*satRate, r.jsAppend), "", true)
	if rc := r.receipts; rc != nil {
		per := rc.perReceipt().Seconds() / rc.perMessage().Seconds()
		row(fmt.Sprintf("chatd CPU per receipt vs per message (one_to_one, %.0f msg/s)", rc.plain.rate),
			fmt.Sprintf("%.1f µs", us(rc.perReceipt())), fmt.Sprintf("%.1f µs (message)", us(rc.perMessage())),
			fmt.Sprintf("%.2f", per), "≤ 1.00", per <= 1)
		row("p99 message delivery with receipts on", ms(rc.with.q(0.99)), ms(rc.plain.q(0.99))+" (receipts off)",
			ratio(rc.with.q(0.99).Seconds(), rc.plain.q(0.99).Seconds()), "", true)
	}
	if ty := r.typing; ty != nil {
		row(fmt.Sprintf("chatd CPU added by %.0f typing signals/s (one_to_one, %.0f msg/s; median of %d rounds, outside the collector)", ty.rate, ty.plain.rate, len(ty.extras)),
			fmt.Sprintf("%+.1f%%", 100*ty.extra()), ty.cpuPlain.Round(time.Millisecond).String()+" CPU without",
			"", "< 5%", ty.extra() < 0.05)
	}
	if a := r.announce; a != nil {
		last, stats := median(a.last), median(a.stats)
		row(fmt.Sprintf("announcement to %d recipients, POST /announcements to the last delivery (median of %d)", a.connected, len(a.last)),
			ms(last), ms(median(a.raw))+" (raw fan-out, same recipients)", ratio(last.Seconds(), median(a.raw).Seconds()),
			"< 120 ms", last > 0 && last < 120*time.Millisecond)
		row(fmt.Sprintf("stats of a %d-recipient announcement, page of 200 (median of %d)", a.recipients, len(a.stats)),
			ms(stats), "", "", "< 50 ms", stats > 0 && stats < 50*time.Millisecond)
	}
	if l := r.list; l != nil {
		row(fmt.Sprintf("GET /conversations p99, first page of a user in %d conversations (%d requests)", l.conversations, l.requests),
			ms(l.p99), ms(l.median)+" (median)", "", "< 20 ms", l.p99 < 20*time.Millisecond)
	}
	if r.replay != nil {
		row(fmt.Sprintf("replay of %d events into PostgreSQL, events/s", r.replay.events), fmt.Sprintf("%.0f", r.replay.rate),
			fmt.Sprintf("%.0f rows/s (COPY)", r.copyRate), ratio(r.replay.rate, r.copyRate), "ratio ≥ 0.5 and ≥ 100,000/s",
			r.replay.rate >= 100000 && r.replay.rate/r.copyRate >= 0.5)
		if s := r.replay.sync; s != nil {
			row(fmt.Sprintf("sync of %d missed deliveries out of %d events (median of %d users)", s.missed, r.replay.events, s.users),
				ms(s.median), "", "", "< 50 ms", s.median < 50*time.Millisecond)
		}
	}
	who := "chatd"
	if r.broker == "mosquitto" {
		who = "mosquitto"
	}
	row(who+" memory per idle client (the process holding the connections)", fmt.Sprintf("%.1f KiB", r.rssPerClient), "", "", "< 20 KB", r.rssPerClient < 20)
	late, lost, dups := r.lossTotals()
	row("deliveries late / lost / duplicated, all scenarios (late: after the drain, within the final wait)",
		fmt.Sprintf("%d / %d / %d", late, lost, dups), "", "", "lost 0, duplicated 0", lost == 0 && dups == 0)
	p("")
	p("![latency and throughput](%s)", r.svgName)
	p("")
	p("## Scenarios")
	p("")
	p("- **Population**: %d MQTT clients connected in %v (lean MQTT 3.1.1 clients, each subscribed to its own topics); chatd RSS %d MiB idle, %d MiB after the steady run.",
		r.clients, r.connectTime.Round(time.Millisecond), r.rssIdle/1024, r.rssAfterSteady/1024)
	if r.mosquittoRSS > 0 {
		p("- Mosquitto RSS with the population connected: %d MiB.", r.mosquittoRSS/1024)
	}
	if r.stacksPerClient > 0 {
		p("- Of chatd's %.1f KiB per idle client, what it still holds once garbage is collected: goroutine stacks %.1f KiB, live heap %.1f KiB (the rest is garbage and the headroom the collector's setting allows).",
			r.rssPerClient, r.stacksPerClient, r.heapPerClient)
	}
	p("- **Steady chat**: %d one_to_one pairs and %d groups (%d members, sizes 2 to 50); every other client idle. %s", r.pairs, r.groups, r.groupMembers, r.steady.text())
	p("- **one_to_one**: the pairs only, at the same rate, every client connected. %s", r.oneToOne.text())
	if rc := r.receipts; rc != nil {
		p("- **Receipts**: the same one_to_one chat at %.0f msg/s twice; in the second run every recipient sends `delivered`, then `read`, for every message it receives. Without: %s. With: %s. %d receipts sent, %d appended (%.0f/s), every one decided %v after the messages' run; chatd CPU %v without, %v with: %.1f µs per message, %.1f µs per receipt appended. Message delivery p50 %v / p99 %v with receipts, %v / %v without.",
			rc.plain.rate, rc.plain.line(), rc.with.line(), rc.published, rc.appended, rc.appendedPerSec(), rc.settle.Round(time.Millisecond),
			rc.cpuPlain.Round(time.Millisecond), rc.cpuWith.Round(time.Millisecond), us(rc.perMessage()), us(rc.perReceipt()),
			ms(rc.with.q(0.5)), ms(rc.with.q(0.99)), ms(rc.plain.q(0.5)), ms(rc.plain.q(0.99)))
	}
	if ty := r.typing; ty != nil {
		p("- **Typing**: the same one_to_one chat at %.0f msg/s, every member focusing its pair, %d times without then with the pairs' members sending `typing` at %.0f signals/s in all; the figure is the median round's (each round's: %s). Without: %s. With: %s. %d signals sent, %d `typing.*` deliveries (the bridge drops a connection's signals past 2/s per conversation); chatd CPU outside its garbage collector %v without, %v with (%+.1f%%).",
			ty.plain.rate, len(ty.extras), ty.rate, percents(ty.extras), ty.plain.line(), ty.with.line(), ty.sent, ty.delivered,
			ty.cpuPlain.Round(time.Millisecond), ty.cpuWith.Round(time.Millisecond), 100*ty.extra())
	}
	p("- **Raw relay** (QoS 1, service account to users' topics, same broker, no chat logic), one_to_one shape (one publish per message to one of the pairs' users): %s", r.relay.text())
	p("- **Raw relay in the steady chat's shape** (each message published to every member of the conversation the chat would send it in, the sender's own copy included, so subscribers receive as many messages per second as in the chat): %s", r.relayShaped.text())
	p("- **JetStream**: async append %.0f msg/s, ordered read %.0f msg/s (file storage, the log's settings).", r.jsAppend, r.jsRead)
	p("- **PostgreSQL COPY** into a table like `messages`, same indexes: %.0f rows/s.", r.copyRate)
	p("")
	r.stagesSection(p)
	p("### Saturation (one_to_one pairs; a step passes with 0 late, 0 lost, 0 duplicated, p99 < 100 ms, ≥ 97%% delivered)")
	p("")
	p("| step | product | raw relay |")
	p("|---|---|---|")
	for i := 0; i < max(len(r.satSteps), len(r.relaySteps)); i++ {
		a, c := "", ""
		if i < len(r.satSteps) {
			a = r.satSteps[i].short()
		}
		if i < len(r.relaySteps) {
			c = r.relaySteps[i].short()
		}
		p("| %d | %s | %s |", i+1, a, c)
	}
	p("")
	p("### Announcement")
	p("")
	if r.announce != nil {
		p("A super admin announces (POST /announcements) to an entity of the directory; the time is from the request to the last connected recipient's announcement.new. %s.",
			r.announce.line())
	}
	if r.replay != nil {
		p("")
		p("### Replay and restart")
		p("")
		p("%d events (conversations, members joining, messages posted and approved) written in %v; `chatctl replay --until-seq` code rebuilt them into a fresh schema at %.0f events/s (plus %v to create and migrate the schema). A stateful consumer (moderation) restores its state from the same log in %v (%.0f events/s): that is its restart time at this log size.",
			r.replay.events, r.replay.generate.Round(time.Millisecond), r.replay.rate, r.replay.setup.Round(time.Millisecond), r.replay.restore.Round(time.Millisecond), r.replay.restoreRate)
		if s := r.replay.sync; s != nil {
			p("")
			p("Sync: on that rebuilt read model, %d users each caught up on their last %d deliveries (GET /sync's read, pages of %d, without HTTP): median %v, p95 %v.",
				s.users, s.missed, s.pageSize, s.median.Round(time.Microsecond), s.p95.Round(time.Microsecond))
		}
	}
	p("")
	p("Load generator CPU over the whole run: %v; per scenario it is in each line above.", r.genCPUTotal.Round(time.Millisecond))
	return b.String()
}

// saturationRows writes the saturation's rows through row and returns the
// chat rate sustained.
func (r *report) saturationRows(row func(fig, prod, base, ratio, goal string, ok bool)) (satRate float64) {
	sat, relBest := best(r.satSteps, 100*time.Millisecond), best(r.relaySteps, 100*time.Millisecond)
	satMoved, relRate, relMoved := 0.0, 0.0, 0.0
	if sat != nil {
		satRate, satMoved = sat.rate, sat.movedPerSec
	}
	if relBest != nil {
		relRate, relMoved = relBest.rate, relBest.movedPerSec
	}
	// A relay that passed every step it ran was not saturated: its figures
	// are floors of what the broker moves, marked "≥", and the ratios to them
	// ceilings, marked "≤"; a ratio goal is not shown as met on a ceiling.
	floor, ceiling := "", ""
	if relBest != nil && !saturated(r.relaySteps, 100*time.Millisecond) {
		floor, ceiling = "≥ ", "≤ "
	}
	bound := func(s string) string {
		if s == "" {
			return s
		}
		return ceiling + s
	}
	row("saturation: sustained chat messages/s, 0 lost, p99 < 100 ms", fmt.Sprintf("%.0f", satRate),
		fmt.Sprintf("%s%.0f relayed/s", floor, relRate), bound(ratio(satRate, relRate)), "≥ 9,000", satRate >= 9000)
	row("saturation: MQTT messages moved/s", fmt.Sprintf("%.0f", satMoved), fmt.Sprintf("%s%.0f", floor, relMoved),
		bound(ratio(satMoved, relMoved)), "ratio ≥ 0.5", relMoved > 0 && satMoved/relMoved >= 0.5 && floor == "")
	if satRate > 0 && relMoved > 0 {
		// A chat message moves several MQTT messages (the posting, its
		// deliveries, the sender's result): even with no chat logic at all,
		// the broker and the clients on this machine cap the chat rate at
		// the relay's rate divided by them, once the relay saturates.
		per := satMoved / satRate
		row(fmt.Sprintf("ceiling: chat messages/s the raw relay's MQTT rate allows (%.1f MQTT messages per chat message)", per),
			fmt.Sprintf("%s%.0f", floor, relMoved/per), fmt.Sprintf("%s%.0f MQTT msg/s (relay)", floor, relMoved),
			bound(ratio(satRate, relMoved/per)), "", true)
	}
	return satRate
}

// lossTotals adds what the measured runs delivered late, lost or repeated,
// every repeat included. Saturation steps that failed are where the load
// broke: their losses are the finding, and the table shows them.
func (r *report) lossTotals() (late, lost, dups int) {
	var runs []*loadResult
	for _, x := range []repeated{r.steady, r.oneToOne, r.relay, r.relayShaped} {
		runs = append(runs, x.runs...)
	}
	if r.receipts != nil {
		runs = append(runs, r.receipts.plain, r.receipts.with)
	}
	if r.typing != nil {
		runs = append(runs, r.typing.runs...)
	}
	for _, x := range append(slices.Clone(r.satSteps), r.relaySteps...) {
		if x.passes(time.Hour) {
			runs = append(runs, x)
		}
	}
	for _, x := range runs {
		if x != nil {
			late += x.late
			lost += x.lost
			dups += x.dups
		}
	}
	return late, lost, dups
}

// text is the median run's line, with the spread of p99 when repeated.
func (r repeated) text() string {
	if r.median == nil {
		return ""
	}
	if len(r.runs) < 2 {
		return r.median.line()
	}
	return fmt.Sprintf("Median of %d runs by p99: %s. p99 over the runs: %v to %v.", len(r.runs), r.median.line(), ms(r.lo), ms(r.hi))
}

func (r *loadResult) short() string {
	return fmt.Sprintf("%.0f/s: p99 %v, late %d, lost %d, dup %d, %.0f MQTT msg/s", r.rate, ms(r.q(0.99)), r.late, r.lost, r.dups, r.movedPerSec)
}

func ratio(a, b float64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b)
}

// svg draws the latency CDF of the steady run and of the raw relay, and the
// steady run's deliveries per second over time.
func (r *report) svg() string {
	const w, h, pad = 900, 360, 50
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>`)
	// Left: CDF with a log latency axis from 0.1 ms to 10 s.
	pw := w/2 - pad - 10
	ph := h - 2*pad
	x0, y0 := pad, h-pad
	fmt.Fprintf(&b, `<text x="%d" y="20" font-weight="bold">publish-to-delivery latency, CDF (log scale)</text>`, x0)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`,
		x0, y0, x0+pw, y0, x0, y0, x0, y0-ph)
	lx := func(d time.Duration) float64 {
		v := math.Log10(max(float64(d)/1e6, 0.1)) // ms
		return float64(x0) + (v+1)/5*float64(pw)  // 0.1 ms … 10 s
	}
	for _, t := range []float64{0.1, 1, 10, 100, 1000, 10000} {
		x := lx(time.Duration(t * 1e6))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%g ms</text>`,
			x, y0, x, y0-ph, x, y0+15, t)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		y := float64(y0) - q*float64(ph)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`, x0-4, y+4, q)
	}
	curve := func(lat []time.Duration, color, label string, ly int) {
		if len(lat) == 0 {
			return
		}
		var pts []string
		n := len(lat)
		for i := 0; i < 400; i++ {
			q := float64(i) / 399
			d := lat[min(n-1, int(q*float64(n-1)))]
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", lx(d), float64(y0)-q*float64(ph)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`, x0+pw-170, ly, color, label)
	}
	if r.steady.median != nil {
		curve(r.steady.median.lat, "#c0392b", fmt.Sprintf("chat, %.0f msg/s", r.steady.median.rate), y0-40)
	}
	if r.relayShaped.median != nil {
		curve(r.relayShaped.median.lat, "#2c7fb8", "raw MQTT relay, same fan-out", y0-25)
	}
	// Right: deliveries per second over time, steady run.
	ox := w/2 + pad
	fmt.Fprintf(&b, `<text x="%d" y="20" font-weight="bold">steady chat: deliveries per second</text>`, ox)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`,
		ox, y0, ox+pw, y0, ox, y0, ox, y0-ph)
	if st := r.steady.median; st != nil && len(st.timeline) > 0 {
		perSec := make([]float64, len(st.timeline))
		top := 1.0
		for i, n := range st.timeline {
			perSec[i] = float64(n) / st.step.Seconds()
			top = max(top, perSec[i])
		}
		top = math.Pow(10, math.Ceil(math.Log10(top)))
		var pts []string
		for i, v := range perSec {
			x := float64(ox) + float64(i)/float64(max(1, len(perSec)-1))*float64(pw)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, float64(y0)-v/top*float64(ph)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#c0392b" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%.0f</text><text x="%d" y="%d" text-anchor="end">0</text>`,
			ox-4, y0-ph+4, top, ox-4, y0+4)
		total := time.Duration(len(perSec)) * st.step
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%v</text>`, ox+pw, y0+15, total.Round(time.Second))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// percents lists fractions as signed percentages: "+3.1%, -0.4%".
func percents(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%+.1f%%", 100*f)
	}
	return strings.Join(parts, ", ")
}
