package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/testkit"
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

// An event whose effect panics is parked with the panic as its reason; the
// events before and after it in the same batch land exactly once.
func TestProjectorParksAnEventWhoseEffectPanicsAndGoesOn(t *testing.T) {
	f := newPoisonFixture(t)
	seqs := f.append(t, f.conversation(t, "c1"), f.post(t, "c1", "m1", "before"), f.post(t, "c1", "m2", "boom"),
		f.post(t, "c1", "m3", "after"), f.approve(t, "c1", "m3"))
	r := boomEffects()

	mark := NewWatermark(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Projector{Pool: f.pool, JS: f.js, Log: testkit.Logger(t), Watermark: mark, effects: r}).Run(ctx)
	}()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	last := lastSeq(t, f.js)
	if !mark.Wait(wctx, last) {
		t.Fatalf("projector stopped at %d of %d", mark.Position(), last)
	}
	cancel()
	<-done
	m1, m3, mod3 := seqs["posted-m1"], seqs["posted-m3"], seqs["mod-m3"]
	want := []string{fmt.Sprintf("m1@%d=pending/0", m1), fmt.Sprintf("m3@%d=approved/%d", m3, mod3)}
	if got := f.messages(t); !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	dead := parked(t, f.js)
	reason, ok := dead[seqs["posted-m2"]]
	if len(dead) != 1 || !ok || !strings.Contains(reason, "panicked") || !strings.Contains(reason, "effect of m2 fails") {
		t.Fatalf("parked %v, want event %d with the panic", dead, seqs["posted-m2"])
	}
}
