// Command chatbench measures the product the way users load it and, in the
// same run on the same machine, the raw limits of its parts: MQTT relay
// through the same broker, JetStream append and read, PostgreSQL COPY. It
// starts a real chatd as its own process, drives it with a population of
// real MQTT clients (a lean client of our own speaking MQTT 3.1.1), and
// writes a Markdown report with an SVG of latency and throughput.
//
// Latency is measured from each message's scheduled send time (open loop),
// so a stall shows up as latency instead of hiding.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	chatd         string
	databaseURL   string
	broker        string
	out           string
	quick         bool
	verbose       bool
	profile       bool
	replayOnly    bool
	listOnly      bool
	listConvs     int // conversation list scenario: the user's conversations
	announceOnly  bool
	clients       int
	pairs         int
	groups        int
	groupShare    float64
	rate          float64
	duration      time.Duration
	drain         time.Duration
	lateWait      time.Duration // after the drain, for deliveries still missing
	repeat        int
	announceTo    int
	replayEvents  int
	baselineN     int
	saturationP99 time.Duration
	satStep       time.Duration
	satRates      []float64
	receiptRate   float64
	typingRate    float64
}

type bench struct {
	ctx context.Context
	o   *options
	db  *pgx.Conn // for quiet
	// quietRefused is what quiet could not do, said once.
	quietRefused map[string]error
	srv          *server
	pop          *population
	rec          *recorder
	run          int
	currentTag   string
	report       *report
}

func (b *bench) logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// serverCPU is the CPU used so far by the processes under test.
func (b *bench) serverCPU() time.Duration {
	t := cpuTime(b.srv.cmd.Process.Pid)
	if b.srv.mosquitto != nil {
		t += cpuTime(b.srv.mosquitto.Process.Pid) // the sh wrapper exec'd mosquitto: same pid
	}
	return t
}

func main() {
	o := &options{}
	fl := flag.NewFlagSet("chatbench", flag.ExitOnError)
	fl.StringVar(&o.chatd, "chatd", "", "chatd binary to measure (required)")
	fl.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL where a fresh database is created for the run")
	fl.StringVar(&o.broker, "broker", "embedded", "embedded or mosquitto (starts a real mosquitto for the run)")
	fl.StringVar(&o.out, "out", "bench-results", "directory for the report, picture and profiles")
	fl.BoolVar(&o.quick, "quick", false, "a smaller run, under a minute, for development")
	fl.BoolVar(&o.verbose, "v", false, "print progress of long steps")
	fl.BoolVar(&o.replayOnly, "replay-only", false, "run only the replay scenario (and the COPY baseline)")
	fl.BoolVar(&o.listOnly, "list-only", false, "run only the conversation list scenario (GET /conversations p99)")
	fl.IntVar(&o.listConvs, "list-conversations", 1000, "conversation list scenario: how many conversations the user is in")
	fl.BoolVar(&o.announceOnly, "announce-only", false, "connect the clients and run only the announcement scenario")
	clients := fl.Int("clients", 0, "connected clients (default 10,000, 2,000 with --quick)")
	announceTo := fl.Int("announce-to", 0, "announcement recipients in the directory (default 10,000, 2,000 with --quick); those past the connected clients are measured only in the request's time")
	fl.BoolVar(&o.profile, "profile", false, "save chatd's CPU profiles (steady, one_to_one, receipts, typing; the announcements with --announce-only), allocation profiles and heaps, and the replay's CPU profile")
	fl.Float64Var(&o.rate, "rate", 2000, "steady scenario: offered chat messages per second")
	fl.IntVar(&o.repeat, "repeat", 0, "run the latency scenarios (raw relays, steady chat, one_to_one) this many times and report the median run's figures (default 3, 1 with --quick)")
	fl.Float64Var(&o.groupShare, "group-share", 0.2, "steady scenario: share of messages sent in groups (sizes 2 to 50)")
	_ = fl.Parse(os.Args[1:])
	if o.chatd == "" || o.databaseURL == "" {
		fmt.Fprintln(os.Stderr, "chatbench: --chatd and --database-url (or DATABASE_URL) are required; run it with `go tool task bench`")
		os.Exit(2)
	}
	if o.broker != "embedded" && o.broker != "mosquitto" {
		fmt.Fprintln(os.Stderr, "chatbench: --broker is embedded or mosquitto")
		os.Exit(2)
	}
	o.defaults()
	if *clients > 0 {
		o.clients = *clients
	}
	if *announceTo > 0 {
		o.announceTo = *announceTo
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

func (o *options) defaults() {
	o.clients, o.pairs, o.groups = 10000, 100, 40
	o.duration, o.drain, o.lateWait = 20*time.Second, 10*time.Second, 30*time.Second
	repeat := 3
	o.announceTo, o.replayEvents, o.baselineN = 10000, 1000000, 200000
	o.saturationP99, o.satStep = 100*time.Millisecond, 5*time.Second
	// The steps rise past what the chat sustains so that the raw relay, which
	// sustained every step up to 16,000/s, finds its own limit on the machine.
	o.satRates = []float64{2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000, 28000, 32000}
	o.receiptRate, o.typingRate = 1000, 500
	if o.quick {
		o.clients, o.groups = 2000, 20
		o.duration, o.drain, o.lateWait = 5*time.Second, 5*time.Second, 10*time.Second
		repeat = 1
		o.announceTo, o.replayEvents, o.baselineN = 2000, 100000, 50000
		o.satStep = 2 * time.Second
		o.satRates = []float64{2000, 5000, 8000, 11000}
		o.receiptRate = 500
	}
	if o.repeat <= 0 {
		o.repeat = repeat
	}
	if o.listOnly { // the list's user and the other member of each conversation
		o.clients = o.listConvs + 1
	}
}

func run(ctx context.Context, o *options) error {
	started := time.Now()
	b := &bench{ctx: ctx, o: o, rec: &recorder{}, quietRefused: map[string]error{}, report: &report{broker: o.broker,
		quick: o.quick, started: started, clients: o.clients, pairs: o.pairs, repeat: o.repeat}}
	users := make([]string, o.clients)
	for i := range users {
		users[i] = userName(i)
	}
	b.logf("starting chatd (%s broker)", o.broker)
	srv, err := startServer(ctx, o, users)
	if err != nil {
		return err
	}
	defer srv.stop()
	b.srv = srv
	defer func() {
		if b.db != nil {
			b.db.Close(context.Background())
		}
	}()
	// Connections cost memory in the process that holds them: chatd with the
	// embedded broker, mosquitto otherwise.
	brokerPid := srv.cmd.Process.Pid
	if srv.mosquitto != nil {
		brokerPid = srv.mosquitto.Process.Pid
	}
	rss0 := rssKB(brokerPid)
	stacks0, heap0, memErr := b.goMemory()
	if o.replayOnly {
		if b.report.copyRate, err = b.copyBaseline(ctx, o.baselineN); err != nil {
			return err
		}
		b.quiet()
		r, err := b.replayScenario(ctx, o.replayEvents)
		if err != nil {
			return err
		}
		fmt.Printf("replay: %d events at %.0f events/s (setup %v, writing %v, indexing %v); COPY %.0f rows/s; ratio %.2f; restore %v\n",
			r.events, r.rate, r.setup.Round(time.Millisecond), r.writing.Round(time.Millisecond), r.indexing.Round(time.Millisecond), b.report.copyRate, r.rate/b.report.copyRate, r.restore.Round(time.Millisecond))
		fmt.Printf("sync: %d missed deliveries out of %d events, median %v, p95 %v (%d users)\n",
			r.sync.missed, r.events, r.sync.median.Round(time.Microsecond), r.sync.p95.Round(time.Microsecond), r.sync.users)
		return nil
	}
	b.logf("connecting %d MQTT clients", o.clients)
	t := time.Now()
	pop, err := connectPopulation(ctx, srv, o.clients, b.rec)
	if err != nil {
		return err
	}
	defer pop.close()
	b.pop = pop
	b.report.connectTime = time.Since(t)
	if o.announceOnly {
		profiled := make(chan struct{})
		if o.profile {
			go func() { b.profile("announce", 5*time.Second); close(profiled) }()
		} else {
			close(profiled)
		}
		r, err := b.announcement(o.announceTo, 3)
		<-profiled
		if err != nil {
			return err
		}
		fmt.Println(r.line())
		return nil
	}
	time.Sleep(time.Second) // let the server settle its buffers before reading its memory
	rss1 := rssKB(brokerPid)
	b.report.rssIdle, b.report.rssPerClient = rssKB(srv.cmd.Process.Pid), float64(rss1-rss0)/float64(o.clients)
	if srv.mosquitto != nil {
		b.report.mosquittoRSS = rss1
	} else if stacks1, heap1, err := b.goMemory(); err == nil && memErr == nil {
		b.report.stacksPerClient = float64(stacks1-stacks0) / 1024 / float64(o.clients)
		b.report.heapPerClient = float64(heap1-heap0) / 1024 / float64(o.clients)
	}
	if o.profile {
		_ = os.MkdirAll(o.out, 0o755)
		_ = srv.fetch("/debug/pprof/heap", filepath.Join(o.out, "chatd-heap-idle.pprof"))
		_ = srv.fetch("/debug/pprof/goroutine?debug=1", filepath.Join(o.out, "chatd-goroutines-idle.txt"))
	}
	held := "" // what chatd holds once collected: the embedded broker's clients only
	if srv.mosquitto == nil {
		held = fmt.Sprintf("; after a collection, stacks %.1f KiB and live heap %.1f KiB", b.report.stacksPerClient, b.report.heapPerClient)
	}
	b.logf("  %d clients in %v; broker RSS %d MiB (%.1f KiB per client%s)",
		o.clients, b.report.connectTime.Round(time.Millisecond), rss1/1024, b.report.rssPerClient, held)
	if o.listOnly {
		r, err := b.listScenario(o.listConvs, 500)
		if err != nil {
			return fmt.Errorf("conversation list: %w", err)
		}
		fmt.Println(r.line())
		return nil
	}

	// PostgreSQL may still be flushing what an earlier run wrote: start the
	// live scenarios on a quiet server so they measure this run alone.
	for i := 0; i < 30; i++ {
		before := postgresCPU()
		time.Sleep(time.Second)
		if cpuSince(before) < 50*time.Millisecond {
			break
		}
		if i == 0 {
			b.logf("waiting for PostgreSQL to go quiet")
		}
	}
	b.logf("creating %d one_to_one pairs and %d groups", o.pairs, o.groups)
	pairs, groups, err := b.chatLoad()
	if err != nil {
		return err
	}
	b.report.groupMembers = 0
	for _, g := range groups {
		b.report.groupMembers += len(g.members)
	}
	b.report.groups = len(groups)
	pubs, err := b.relayConns(4)
	if err != nil {
		return err
	}

	// The latency scenarios, o.repeat rounds of each, every run from a quiet
	// server; the report shows each one's median run.
	var relay, relayShaped, steady, oneToOne []*loadResult
	for round := range o.repeat {
		if o.repeat > 1 {
			b.logf("latency scenarios, round %d of %d", round+1, o.repeat)
		}
		b.logf("baseline: raw MQTT relay through the same broker, one_to_one shape")
		b.quiet()
		relay = append(relay, b.relay("raw relay", pubs, o.pairs*2, o.rate, o.duration, o.drain))
		b.logf("  %s", relay[round].line())

		b.logf("baseline: raw MQTT relay in the steady chat's fan-out shape")
		b.quiet()
		relayShaped = append(relayShaped, b.relayShaped("raw relay, chat's shape", pubs, pairs, groups, o.groupShare, o.rate, o.duration, o.drain))
		b.logf("  %s", relayShaped[round].line())

		b.logf("steady chat: %d pairs and %d groups", len(pairs), len(groups))
		b.quiet()
		if o.profile && round == 0 {
			go b.profile("steady", o.duration)
		}
		steady = append(steady, b.chatStaged("steady chat", pairs, groups, o.groupShare, o.rate, o.duration, o.drain))
		b.logf("  %s", steady[round].line())
		if round == 0 {
			b.report.rssAfterSteady = rssKB(srv.cmd.Process.Pid)
			if o.profile {
				_ = b.srv.fetch("/metrics", filepath.Join(o.out, "chatd-metrics-after-steady.txt"))
				_ = b.srv.fetch("/debug/pprof/heap?gc=1", filepath.Join(o.out, "chatd-heap-after-steady.pprof"))
			}
		}

		b.logf("one_to_one: %d pairs at %.0f msg/s, %d clients connected", len(pairs), o.rate, o.clients)
		b.quiet()
		if o.profile && round == 0 {
			go b.profile("one_to_one", o.duration)
		}
		oneToOne = append(oneToOne, b.chatStaged("one_to_one", pairs, nil, 0, o.rate, o.duration, o.drain))
		b.logf("  %s", oneToOne[round].line())
	}
	b.report.relay, b.report.relayShaped = medianRun(relay), medianRun(relayShaped)
	b.report.steady, b.report.oneToOne = medianRun(steady), medianRun(oneToOne)

	b.quiet()
	b.report.relaySteps = b.saturate("raw relay", o.satRates, func(r float64) *loadResult {
		return b.relay("raw relay", pubs, o.pairs*2, r, o.satStep, o.drain)
	})
	for _, p := range pubs {
		p.Close()
	}

	b.logf("receipts: one_to_one pairs at %.0f msg/s, without then with delivered and read for every message", o.receiptRate)
	if b.report.receipts, err = b.receiptsScenario(pairs, o.receiptRate, o.duration, o.drain); err != nil {
		return fmt.Errorf("receipts: %w", err)
	}

	b.logf("typing: one_to_one pairs at %.0f msg/s, without then with %.0f typing signals/s, %d times", o.receiptRate, o.typingRate, max(o.repeat, 1))
	if b.report.typing, err = b.typingScenario(pairs, o.receiptRate, o.typingRate, o.repeat, o.duration, o.drain); err != nil {
		return fmt.Errorf("typing: %w", err)
	}

	b.logf("saturation: one_to_one pairs, rising rate")
	b.quiet()
	b.report.satSteps = b.saturate("chat", o.satRates, func(r float64) *loadResult {
		return b.chat("chat", pairs, nil, 0, r, o.satStep, o.drain)
	})

	b.logf("announcement: POST /announcements to %d recipients", o.announceTo)
	if b.report.announce, err = b.announcement(o.announceTo, 3); err != nil {
		return err
	}
	b.logf("  %s", b.report.announce.line())

	b.logf("conversation list: one user in %d conversations", o.listConvs)
	if b.report.list, err = b.listScenario(min(o.listConvs, o.clients-1), 1000); err != nil {
		return fmt.Errorf("conversation list: %w", err)
	}
	b.logf("  %s", b.report.list.line())

	// The bulk baselines and the replay write a lot to disk: they come last so
	// the background flushing they cause does not weigh on the live scenarios.
	// The clients go first: the replay runs in this process, as `chatctl
	// replay` runs in its own, not beside thousands of connections' goroutines
	// for the collector to scan.
	pop.close()
	// From a quiet database too: the latency scenarios' rows are still being
	// flushed and vacuumed, which slowed COPY and the rebuild alike.
	b.quiet()
	b.logf("baseline: JetStream append and read, %d messages", o.baselineN)
	if b.report.jsAppend, b.report.jsRead, err = b.jetstreamBaseline(ctx, o.baselineN); err != nil {
		return fmt.Errorf("jetstream baseline: %w", err)
	}
	b.logf("baseline: PostgreSQL COPY, %d rows", o.baselineN)
	if b.report.copyRate, err = b.copyBaseline(ctx, o.baselineN); err != nil {
		return fmt.Errorf("copy baseline: %w", err)
	}

	b.quiet() // COPY's own pages written out before the rebuild starts
	b.logf("replay: rebuilding the read model from %d events", o.replayEvents)
	b.report.replay, err = b.replayScenario(ctx, o.replayEvents)
	if err != nil {
		return err
	}
	b.logf("  %.0f events/s; consumer restore %v", b.report.replay.rate, b.report.replay.restore.Round(time.Millisecond))
	b.report.genCPUTotal = selfCPU()
	b.report.elapsed = time.Since(started)

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	stamp := started.UTC().Format("20060102-150405") + "-" + o.broker
	if o.quick {
		stamp += "-quick"
	}
	md, svg := filepath.Join(o.out, "report-"+stamp+".md"), filepath.Join(o.out, "report-"+stamp+".svg")
	b.report.svgName = filepath.Base(svg)
	if err := os.WriteFile(svg, []byte(b.report.svg()), 0o644); err != nil {
		return err
	}
	text := b.report.markdown()
	if err := os.WriteFile(md, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Println(text)
	fmt.Fprintf(os.Stderr, "report: %s\npicture: %s\n", md, svg)
	return nil
}

// profileCPU starts saving chatd's CPU profile over the next d, with
// --profile, in chatd-cpu-{scenario}.pprof; it returns at once.
func (b *bench) profileCPU(scenario string, d time.Duration) {
	if !b.o.profile {
		return
	}
	_ = os.MkdirAll(b.o.out, 0o755)
	go func() {
		_ = b.srv.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())),
			filepath.Join(b.o.out, "chatd-cpu-"+scenario+".pprof"))
	}()
}

// profile saves chatd's CPU profile over a scenario's run, then its
// allocations, in files named after the scenario.
func (b *bench) profile(scenario string, d time.Duration) {
	_ = os.MkdirAll(b.o.out, 0o755)
	secs := int(d.Seconds())
	if err := b.srv.fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), filepath.Join(b.o.out, "chatd-cpu-"+scenario+".pprof")); err != nil {
		b.logf("cpu profile: %v", err)
	}
	if err := b.srv.fetch("/debug/pprof/allocs", filepath.Join(b.o.out, "chatd-allocs-"+scenario+".pprof")); err != nil {
		b.logf("allocs profile: %v", err)
	}
}

func (r *loadResult) line() string {
	return fmt.Sprintf("%s: %.0f msg/s offered, %d/%d deliveries, late %d, lost %d, dup %d, p50 %v p99 %v p99.9 %v max %v, %.0f MQTT msg/s (%.0f delivered), chatd %.0f%% CPU, PostgreSQL %.0f%%, generator %.0f%%",
		r.name, r.rate, r.unique, r.expected, r.late, r.lost, r.dups, ms(r.q(0.5)), ms(r.q(0.99)), ms(r.q(0.999)), ms(r.q(1)),
		r.movedPerSec, r.outPerSec, 100*r.serverCPU, 100*r.dbCPU, 100*r.genCPU)
}

func ms(d time.Duration) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", float64(d)/1e6), "0"), ".") + " ms"
}

// profileReplay starts profiling this process's CPU when --profile is set
// (the replay runs here, not in chatd); the returned func stops it. It covers
// the rebuild only, not the log's generation nor the restore read after it.
func (b *bench) profileReplay() (stop func()) {
	if !b.o.profile {
		return func() {}
	}
	_ = os.MkdirAll(b.o.out, 0o755)
	f, err := os.Create(filepath.Join(b.o.out, "replay-cpu.pprof"))
	if err != nil {
		b.logf("replay profile: %v", err)
		return func() {}
	}
	_ = pprof.StartCPUProfile(f)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
