package fanout

import (
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestFanoutForgetsNoEventType(t *testing.T) {
	if f := routes.Forgotten(); len(f) > 0 {
		t.Fatalf("fan-out neither routes nor ignores %v: declare each in routes", f)
	}
}

// Every event a client may see reaches fan-out's handlers: only internal
// events may be ignored.
func TestFanoutRoutesEveryClientFacingType(t *testing.T) {
	for _, typ := range events.Types {
		spec, _ := events.SpecOf(typ)
		if !spec.Internal && !routes.Handles(typ) {
			t.Errorf("fan-out does not route %s, which clients see", typ)
		}
	}
}
