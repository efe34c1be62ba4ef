package moderation

import (
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestModerationForgetsNoEventType(t *testing.T) {
	if f := decides.Forgotten(); len(f) > 0 {
		t.Fatalf("moderation neither decides nor ignores %v: declare each in decides", f)
	}
}

func TestModerationDecidesEveryPosting(t *testing.T) {
	if !decides.Handles(events.TypeMessagePosted) {
		t.Fatal("moderation does not decide MessagePosted")
	}
}
