package bridge_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/bridge"
	"github.com/chatbackend/chat/bridge/mqttlite"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
)

// The idle-client measurement runs its clients in a child process (this
// test binary again, told so by populationEnv), so that the broker's
// process holds nothing but the broker's side of each connection.
const populationEnv = "CHAT_IDLE_POPULATION"

func TestMain(m *testing.M) {
	if spec := os.Getenv(populationEnv); spec != "" {
		os.Exit(runPopulation(spec))
	}
	os.Exit(m.Run())
}

// runPopulation connects the clients "addr n" asks for, each subscribed to
// its own topics at QoS 1 like the benchmark's population, says "ready",
// and holds them until its stdin closes.
func runPopulation(spec string) int {
	addr, count, _ := strings.Cut(spec, " ")
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Println("population:", err)
		return 1
	}
	conns := make([]*mqttlite.Conn, 0, n)
	for i := range n {
		user := "idle" + strconv.Itoa(i)
		tok, err := auth.Mint(secret, "geosector", user, "member", "", "", time.Hour, time.Now())
		if err != nil {
			fmt.Println("population:", err)
			return 1
		}
		c, err := mqttlite.Dial(addr, "idle-"+user, user, tok, nil)
		if err == nil {
			err = c.Subscribe("chat/user/"+user+"/#", 1)
		}
		if err != nil {
			fmt.Println("population:", err)
			return 1
		}
		go func() { _ = c.Run() }()
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// idleSample is the broker process's memory at one moment.
type idleSample struct {
	goroutines                 int
	heapInuse, stackInuse, rss uint64
}

// sampleIdle reads the process's memory as it stands, then after
// collections: the runtime shrinks a goroutine's stack by half at most once
// per collection, when it uses less than a quarter of it, so two rounds
// bring a stack grown during CONNECT and SUBSCRIBE down to what its parked
// frames need.
func sampleIdle() (asIs, collected idleSample) {
	read := func() idleSample {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return idleSample{goroutines: runtime.NumGoroutine(), heapInuse: ms.HeapInuse, stackInuse: ms.StackInuse, rss: rssBytes()}
	}
	asIs = read()
	runtime.GC()
	runtime.GC()
	return asIs, read()
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// connectIdle starts a child process holding n idle clients of b and
// returns once they are all connected and subscribed.
func connectIdle(tb testing.TB, b *bridge.Broker, n int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), populationEnv+"="+b.Addr()+" "+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		tb.Fatalf("idle population: %q %v", line, err)
	}
}

// idleBroker is an embedded broker as chatd runs it, with the live hook
// that keeps per-connection state.
func idleBroker(tb testing.TB, o bridge.BrokerOptions) *bridge.Broker {
	tb.Helper()
	o.TCPAddr, o.Secret, o.Apps = "127.0.0.1:0", secret, config.Defaults()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := bridge.StartBroker(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	if err := b.Ingest(o.Apps, nil, nil, nil, func(string, []byte) error { return nil }, o.Log); err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkIdleClientMemory reports what one idle connected client costs
// the broker's process: goroutines; resident memory and goroutine stacks a
// second after connecting, as chatd's benchmark reads them; stacks and heap
// in use after collections (see sampleIdle). CHAT_IDLE_CLIENTS sets the
// number of clients (default 2000); CHAT_IDLE_HEAP_PROFILE=file writes a
// heap profile while they are connected. Run it with -benchtime=1x: each
// round starts a broker of its own, and a process reuses the memory an
// earlier round freed, so only the first round's resident figure counts.
func BenchmarkIdleClientMemory(b *testing.B) {
	n := 2000
	if v := os.Getenv("CHAT_IDLE_CLIENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	profile := os.Getenv("CHAT_IDLE_HEAP_PROFILE")
	if profile != "" {
		runtime.MemProfileRate = 64
	}
	for range b.N {
		br := idleBroker(b, bridge.BrokerOptions{})
		_, before := sampleIdle()
		connectIdle(b, br, n)
		time.Sleep(time.Second) // as the benchmark lets chatd settle
		asIs, after := sampleIdle()
		if profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				b.Fatal(err)
			}
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
		per := func(a, z uint64) float64 { return (float64(z) - float64(a)) / float64(n) }
		b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/client")
		b.ReportMetric(per(before.rss, asIs.rss), "rss-B/client")
		b.ReportMetric(per(before.stackInuse, asIs.stackInuse), "stack-B/client")
		b.ReportMetric(per(before.stackInuse, after.stackInuse), "stack-gc-B/client")
		b.ReportMetric(per(before.heapInuse, after.heapInuse), "heap-gc-B/client")
	}
}

// An idle client costs the broker two goroutines (mochi's reader, which
// runs the hooks, and its writer), a write queue of the configured number
// of messages and a read buffer of the configured size: nothing of its
// per-connection memory grows with anything but these settings.
func TestIdleClientHoldsTwoGoroutinesAndItsConfiguredBuffers(t *testing.T) {
	const n, queue, readBuffer = 40, 48, 512
	b := idleBroker(t, bridge.BrokerOptions{MaxQueued: queue, ReadBuffer: readBuffer})
	before := runtime.NumGoroutine()
	for i := range n {
		user := "idle" + strconv.Itoa(i)
		c, err := mqttlite.Dial(b.Addr(), "idle-"+user, user, token(t, user, "member"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Subscribe("chat/user/"+user+"/#", 1); err != nil {
			t.Fatal(err)
		}
		// c is not read from: it starts no goroutine of its own.
	}
	if got := runtime.NumGoroutine() - before; got > 2*n {
		t.Errorf("%d idle clients hold %d goroutines, want at most %d", n, got, 2*n)
	}
	seen := 0
	for _, cl := range b.Server().Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		seen++
		// mochi keeps both unexported; reflect reads their sizes.
		if got := reflect.ValueOf(cl).Elem().FieldByName("State").FieldByName("outbound").Cap(); got != queue {
			t.Fatalf("client %s: write queue of %d messages, want %d", cl.ID, got, queue)
		}
		if got := reflect.ValueOf(cl).Elem().FieldByName("Net").FieldByName("bconn").Elem().FieldByName("buf").Cap(); got != readBuffer {
			t.Fatalf("client %s: read buffer of %d bytes, want %d", cl.ID, got, readBuffer)
		}
	}
	if seen != n {
		t.Fatalf("the broker holds %d clients, want %d", seen, n)
	}
}
