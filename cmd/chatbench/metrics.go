package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// scrapeMetrics calls each with every line of chatd's /metrics.
func (b *bench) scrapeMetrics(each func(line string) error) error {
	resp, err := http.Get("http://" + b.srv.httpAddr + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := each(sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// metricValue is the value of a metric line of chatd's (name and labels as
// written, e.g. `chat_live_deliveries_total`), 0 when absent.
func (b *bench) metricValue(name string) (float64, error) {
	vs, err := b.metricValues(name)
	return vs[name], err
}

// metricValues are the values of several metric lines, read in one scrape so
// they describe the same moment; an absent one is missing from the map.
func (b *bench) metricValues(names ...string) (map[string]float64, error) {
	vs := make(map[string]float64, len(names))
	err := b.scrapeMetrics(func(line string) error {
		for _, name := range names {
			value, ok := strings.CutPrefix(line, name+" ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("metrics: %q", line)
			}
			vs[name] = v
		}
		return nil
	})
	return vs, err
}

// goMemory is what chatd's Go runtime holds after a collection: goroutine
// stacks and live heap, in bytes. Collecting first leaves out the garbage
// and the headroom the collector's setting allows, which RSS includes.
func (b *bench) goMemory() (stacks, heap int64, err error) {
	if err := b.srv.fetch("/debug/pprof/heap?gc=1", os.DevNull); err != nil {
		return 0, 0, err
	}
	vs, err := b.metricValues("go_memstats_stack_inuse_bytes", "go_memstats_heap_alloc_bytes")
	return int64(vs["go_memstats_stack_inuse_bytes"]), int64(vs["go_memstats_heap_alloc_bytes"]), err
}
