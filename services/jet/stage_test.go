package jet

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStageDoneTimesEachStageFromIngressWithoutAllocating(t *testing.T) {
	at := time.Now().Add(-3 * time.Millisecond)
	allocs := testing.AllocsPerRun(100, func() {
		StageDone(StageIngressAppend, at)
		StageDone(StageModeration, at)
		StageDone(StageFanout, at)
	})
	if allocs != 0 {
		t.Errorf("observing the stages allocates %v times", allocs)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	stages := 0
	for _, mf := range mfs {
		if mf.GetName() == "chat_stage_seconds" {
			for _, m := range mf.GetMetric() {
				if m.GetHistogram().GetSampleCount() > 0 {
					stages++
				}
			}
		}
	}
	if stages != 3 {
		t.Errorf("chat_stage_seconds has %d stages observed, want 3", stages)
	}
}
