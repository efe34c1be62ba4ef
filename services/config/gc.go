package config

import (
	"fmt"
	"math"
	"os"
	"path"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
)

// GCPercent is the garbage collector's target (GOGC) a rebuild runs at, and
// chatd without a memory limit, unless the environment sets GOGC: the heap
// may grow to five times what is live between collections. At the runtime's
// default of 100 the collector took about a fifth of a rebuild's CPU (the
// roster and the set of message keys stay live, and every event allocates);
// the memory it costs is in the README.
const GCPercent = 400

// GCPercentWithLimit is chatd's target when it has a memory limit: the heap
// may grow to 21 times what is live, and the limit collects sooner when
// memory runs short. A collection with 10,000 clients marks for 50–350 ms,
// taking a quarter of the CPU and slowing every message it catches; on the
// benchmark, collecting this rarely instead of at GOGC=400 cut the
// one_to_one chat's p99 from 26 ms to 6.5–15 ms and raised the sustained
// rate from 3,000 to 4,500 messages/s, for 4.1 GiB resident instead of 1.6
// (README, "Memory for latency").
const GCPercentWithLimit = 2000

// CollectLess sets this process's collector to GCPercent, unless getenv
// says GOGC is set, and returns what puts it back.
func CollectLess(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}

// MemoryLimitAuto is the share of the memory chatd may use that its heap is
// allowed by default: the rest is for goroutine stacks, the embedded NATS
// server's file cache, and PostgreSQL or Mosquitto on the same machine.
const MemoryLimitAuto = 4

// ParseMemoryLimit reads a --memory-limit value: "auto" (a quarter of the
// memory this process may use, see AutoMemoryLimit), "off" (0: no limit),
// or a size: bytes, or a number with KiB, MiB, GiB, KB, MB or GB.
func ParseMemoryLimit(s string, read func(string) ([]byte, error)) (int64, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "auto":
		return AutoMemoryLimit(read), nil
	case "off":
		return 0, nil
	}
	n, err := ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("memory-limit: %w (auto, off, or a size such as 2GiB)", err)
	}
	if n < 64<<20 {
		return 0, fmt.Errorf("memory-limit: %s is below 64MiB, too little for chatd", s)
	}
	return n, nil
}

var sizeUnits = []struct {
	suffix string
	factor int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}

// ParseSize reads a size in bytes: "1073741824", "1GiB", "1.5GB", "512MiB".
func ParseSize(s string) (int64, error) {
	num, factor := s, int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if v*float64(factor) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v * float64(factor)), nil
}

// AutoMemoryLimit is a quarter of the memory this process may use: the
// tightest limit of its cgroup and the cgroup's parents (v2, or v1's
// memory controller) when there is one, else the machine's memory.
// Nothing readable gives 1 GiB.
func AutoMemoryLimit(read func(string) ([]byte, error)) int64 {
	if read == nil {
		read = os.ReadFile
	}
	total := machineMemory(read)
	if n := cgroupLimit(read); n > 0 && (total == 0 || n < total) {
		total = n
	}
	if total <= 0 {
		return 1 << 30
	}
	return total / MemoryLimitAuto
}

// cgroupLimit is the tightest memory limit on this process's cgroup path,
// from /proc/self/cgroup: "0::/a/b" (v2) reads memory.max in
// /sys/fs/cgroup/a/b, /sys/fs/cgroup/a and /sys/fs/cgroup; "4:memory:/a"
// (v1) memory.limit_in_bytes under /sys/fs/cgroup/memory. 0 is none.
func cgroupLimit(read func(string) ([]byte, error)) int64 {
	b, err := read("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	var best int64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			root, file = "/sys/fs/cgroup", "memory.max"
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			root, file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		for dir := path.Clean("/" + parts[2]); ; dir = path.Dir(dir) {
			b, err := read(path.Join(root, dir, file))
			// "max" (v2) and v1's page-rounded MaxInt64 mean no limit.
			if n, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && perr == nil &&
				n > 0 && n < math.MaxInt64/2 && (best == 0 || n < best) {
				best = n
			}
			if dir == "/" {
				break
			}
		}
	}
	return best
}

// machineMemory is MemTotal of /proc/meminfo in bytes, or 0.
func machineMemory(read func(string) ([]byte, error)) int64 {
	b, err := read("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// Collector is how chatd's garbage collector runs.
type Collector struct {
	Percent int   // GOGC; -1 is off
	Limit   int64 // bytes; 0 is none
	// FromEnv says the environment's GOGC or GOMEMLIMIT decided instead.
	FromEnv []string
}

// TuneCollector sets chatd's collector: with a memory limit, the limit and
// GCPercentWithLimit; without one, GCPercent. GOGC and GOMEMLIMIT in the
// environment win over either part, as the runtime already applied them.
func TuneCollector(limit int64, getenv func(string) string) Collector {
	var c Collector
	if getenv("GOMEMLIMIT") != "" {
		c.FromEnv = append(c.FromEnv, "GOMEMLIMIT")
	} else {
		if limit <= 0 {
			limit = math.MaxInt64 // the runtime's "no limit"
		}
		debug.SetMemoryLimit(limit)
	}
	if getenv("GOGC") != "" {
		c.FromEnv = append(c.FromEnv, "GOGC")
	} else if limit < math.MaxInt64 && getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(GCPercentWithLimit)
	} else {
		debug.SetGCPercent(GCPercent)
	}
	c.Percent, c.Limit = currentCollector()
	return c
}

// currentCollector reads the collector's settings as the runtime has them.
func currentCollector() (percent int, limit int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	// GOGC=off is -1, stored as the unsigned value of the same bits.
	percent, limit = int(int64(s[0].Value.Uint64())), int64(s[1].Value.Uint64())
	if limit == math.MaxInt64 {
		limit = 0
	}
	return percent, limit
}

// String describes c for chatd's start-up log.
func (c Collector) String() string {
	limit := "none"
	if c.Limit > 0 {
		limit = strconv.FormatInt(c.Limit>>20, 10) + "MiB"
	}
	s := "GOGC=" + strconv.Itoa(c.Percent) + " memory limit " + limit
	if c.Percent < 0 {
		s = "GOGC=off memory limit " + limit
	}
	if len(c.FromEnv) > 0 {
		s += " (" + strings.Join(c.FromEnv, ", ") + " from the environment)"
	}
	return s
}
