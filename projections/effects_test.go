package projections

import (
	"testing"

	"github.com/chatbackend/chat/events"
)

// The projector handles or explicitly ignores every type, and handles every
// type a client may see: the read model is what REST serves them.
func TestProjectorForgetsNoEventType(t *testing.T) {
	if f := effects.Forgotten(); len(f) > 0 {
		t.Fatalf("the projector neither projects nor ignores %v: declare each in effects", f)
	}
	for _, typ := range events.Types {
		spec, _ := events.SpecOf(typ)
		if !spec.Internal && !effects.Handles(typ) {
			t.Errorf("the read model does not project %s, which clients see", typ)
		}
	}
}
