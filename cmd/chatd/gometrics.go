package main

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// registerGoMetrics replaces reg's Go collector with one that also exports
// the CPU the garbage collector takes, by class (go_cpu_classes_gc_…: mark
// assists, background marking, pauses), and the heap its last collection
// found live (go_gc_heap_live_bytes). What a collection costs the chat path
// shows in its assists, the marking done by goroutines that allocate, which
// go_gc_duration_seconds (the world stopped) misses; how long it marks
// follows the live heap.
func registerGoMetrics(reg prometheus.Registerer) error {
	reg.Unregister(collectors.NewGoCollector())
	return reg.Register(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^(/cpu/classes/gc/|/gc/heap/live:bytes$)`)})))
}
