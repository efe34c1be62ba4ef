package config_test

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/chatbackend/chat/services/config"
)

func TestCollectLessRaisesTheCollectorTargetUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	restore := config.CollectLess(func(string) string { return "" })
	if got := debug.SetGCPercent(config.GCPercent); got != config.GCPercent {
		t.Errorf("GOGC is %d, want %d", got, config.GCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after restore GOGC is %d, want 100 back", got)
	}

	restore = config.CollectLess(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the collector was changed to %d", got)
	}
	restore()
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1073741824": 1 << 30, "1GiB": 1 << 30, "1.5GB": 1_500_000_000, "512MiB": 512 << 20,
		"512 MiB": 512 << 20, "64KiB": 64 << 10, "2TB": 2e12, "100B": 100, "0": 0,
	} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "lots", "-1GiB", "1XB", "NaN", "Inf", "1e30GiB", "1GiB1", "0x10MiB"} {
		if got, err := config.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

// files fakes the files AutoMemoryLimit reads; a missing one does not exist.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := m[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

const meminfo8GiB = "MemTotal:        8388608 kB\nMemFree:         1000 kB\n"

func TestMemoryLimitAutoIsAQuarterOfTheMachineOrContainer(t *testing.T) {
	const v2 = "0::/system.slice/chatd.service\n"
	const v1 = "9:name=systemd:/\n4:memory:/process_api/42\n1:cpu,cpuacct:/\n0::/\n"
	cases := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"machine only", map[string]string{"/proc/meminfo": meminfo8GiB}, 2 << 30},
		{"cgroup v2 without a limit", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v2,
			"/sys/fs/cgroup/system.slice/chatd.service/memory.max": "max\n"}, 2 << 30},
		{"cgroup v2 limit", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v2,
			"/sys/fs/cgroup/system.slice/chatd.service/memory.max": "2147483648\n"}, 512 << 20},
		{"cgroup v2 limit on the parent slice", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v2,
			"/sys/fs/cgroup/system.slice/chatd.service/memory.max": "max\n", "/sys/fs/cgroup/system.slice/memory.max": "4294967296\n"}, 1 << 30},
		{"the tightest of two limits", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v2,
			"/sys/fs/cgroup/system.slice/chatd.service/memory.max": "2147483648\n", "/sys/fs/cgroup/system.slice/memory.max": "4294967296\n"}, 512 << 20},
		{"container's own cgroup", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": "0::/\n",
			"/sys/fs/cgroup/memory.max": "1073741824\n"}, 256 << 20},
		{"cgroup v2 limit above the machine", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": "0::/\n",
			"/sys/fs/cgroup/memory.max": "17179869184\n"}, 2 << 30},
		{"cgroup v1 without a limit", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v1,
			"/sys/fs/cgroup/memory/process_api/42/memory.limit_in_bytes": "9223372036854771712\n",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes":                "9223372036854771712\n"}, 2 << 30},
		{"cgroup v1 limit", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": v1,
			"/sys/fs/cgroup/memory/process_api/42/memory.limit_in_bytes": "4294967296\n"}, 1 << 30},
		{"cgroup limit, no meminfo", map[string]string{"/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "4294967296"}, 1 << 30},
		{"garbled cgroup file", map[string]string{"/proc/meminfo": meminfo8GiB, "/proc/self/cgroup": "nonsense\n::\n"}, 2 << 30},
		{"nothing readable", nil, 1 << 30},
		{"garbled meminfo", map[string]string{"/proc/meminfo": "MemTotal: lots kB\n"}, 1 << 30},
	}
	for _, c := range cases {
		for _, in := range []string{"auto", "", " auto "} {
			got, err := config.ParseMemoryLimit(in, files(c.files))
			if err != nil || got != c.want {
				t.Errorf("%s: ParseMemoryLimit(%q) = %d, %v; want %d", c.name, in, got, err, c.want)
			}
		}
	}
}

func TestMemoryLimitValues(t *testing.T) {
	read := files(map[string]string{"/proc/meminfo": meminfo8GiB})
	for in, want := range map[string]int64{"off": 0, "2GiB": 2 << 30, "64MiB": 64 << 20, "3000000000": 3e9} {
		if got, err := config.ParseMemoryLimit(in, read); err != nil || got != want {
			t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"32MiB", "0", "none", "-2GiB", "2 gigs"} {
		if got, err := config.ParseMemoryLimit(in, read); err == nil {
			t.Errorf("ParseMemoryLimit(%q) = %d, want an error", in, got)
		}
	}
}

// keepCollector puts the test process's collector back as it was.
func keepCollector(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestTuneCollector(t *testing.T) {
	keepCollector(t)
	got := config.TuneCollector(1<<30, env())
	if got.Percent != config.GCPercentWithLimit || got.Limit != 1<<30 || len(got.FromEnv) != 0 {
		t.Errorf("with a limit: %+v, want GOGC=%d and the limit", got, config.GCPercentWithLimit)
	}
	if p := debug.SetGCPercent(100); p != config.GCPercentWithLimit {
		t.Errorf("the runtime's GOGC is %d, want %d", p, config.GCPercentWithLimit)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<30 {
		t.Errorf("the runtime's memory limit is %d, want 1GiB", l)
	}

	got = config.TuneCollector(0, env())
	if got.Percent != config.GCPercent || got.Limit != 0 {
		t.Errorf("without a limit: %+v, want GOGC=%d and no limit", got, config.GCPercent)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("off left a memory limit of %d", l)
	}
}

func TestTuneCollectorLeavesWhatTheEnvironmentSet(t *testing.T) {
	keepCollector(t)
	// As the runtime applied them at start: GOGC=150, GOMEMLIMIT=3GiB.
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(3 << 30)
	got := config.TuneCollector(1<<30, env("GOGC", "150", "GOMEMLIMIT", "3GiB"))
	if got.Percent != 150 || got.Limit != 3<<30 || len(got.FromEnv) != 2 {
		t.Errorf("got %+v, want the environment's GOGC=150 and 3GiB", got)
	}
	if s := got.String(); s != "GOGC=150 memory limit 3072MiB (GOMEMLIMIT, GOGC from the environment)" {
		t.Errorf("String() = %q", s)
	}

	// GOGC=off with our limit: the limit alone collects.
	debug.SetGCPercent(-1)
	got = config.TuneCollector(1<<30, env("GOGC", "off"))
	if got.Percent != -1 || got.Limit != 1<<30 || got.String() != "GOGC=off memory limit 1024MiB (GOGC from the environment)" {
		t.Errorf("got %+v (%s), want GOGC off and the 1GiB limit", got, got)
	}

	// GOMEMLIMIT alone: our GOGC for no limit of our own, the runtime's limit.
	debug.SetMemoryLimit(2 << 30)
	got = config.TuneCollector(1<<30, env("GOMEMLIMIT", "2GiB"))
	if got.Percent != config.GCPercent || got.Limit != 2<<30 {
		t.Errorf("got %+v, want GOGC=%d and the environment's 2GiB", got, config.GCPercent)
	}
}

func TestLoadRefusesABadMemoryLimit(t *testing.T) {
	for _, args := range [][]string{{"--memory-limit=lots"}, {"--memory-limit=1MiB"}} {
		if _, err := config.Load("chatd", append(args, "--jwt-secret=0123456789abcdef0123456789abcdef"), env()); err == nil {
			t.Errorf("Load(%v) accepted it", args)
		}
	}
	_, err := config.Load("chatd", []string{"--jwt-secret=0123456789abcdef0123456789abcdef"}, env("CHAT_MEMORY_LIMIT", "lots"))
	if err == nil {
		t.Error("CHAT_MEMORY_LIMIT=lots accepted")
	}
	c, err := config.Load("chatd", []string{"--jwt-secret=0123456789abcdef0123456789abcdef", "--memory-limit=off"}, env("CHAT_MEMORY_LIMIT", "lots"))
	if err != nil || c.MemoryLimit != 0 {
		t.Errorf("the flag did not win over the environment: %v, %v", c, err)
	}
}
