package config_test

import (
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
