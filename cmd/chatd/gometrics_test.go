package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func TestGoMetricsAddTheCollectorsCostAndKeepTheDefaults(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector()) // as the default registry has it
	if err := registerGoMetrics(reg); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
	}
	for _, name := range []string{"go_gc_duration_seconds", "go_memstats_stack_inuse_bytes",
		"go_cpu_classes_gc_mark_assist_cpu_seconds_total", "go_cpu_classes_gc_total_cpu_seconds_total", "go_gc_heap_live_bytes"} {
		if !seen[name] {
			t.Errorf("%s is not exported", name)
		}
	}
}
