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
	var v float64
	err := b.scrapeMetrics(func(line string) error {
		s, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			return nil
		}
		var err error
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return fmt.Errorf("metrics: %q", line)
		}
		return nil
	})
	return v, err
}

// goMemory is what chatd's Go runtime holds after a collection: goroutine
// stacks and live heap, in bytes. Collecting first leaves out the garbage
// and the headroom the collector's setting allows, which RSS includes.
func (b *bench) goMemory() (stacks, heap int64, err error) {
	if err := b.srv.fetch("/debug/pprof/heap?gc=1", os.DevNull); err != nil {
		return 0, 0, err
	}
	s, err := b.metricValue("go_memstats_stack_inuse_bytes")
	if err != nil {
		return 0, 0, err
	}
	h, err := b.metricValue("go_memstats_heap_alloc_bytes")
	return int64(s), int64(h), err
}
