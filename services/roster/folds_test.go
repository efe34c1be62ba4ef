package roster

import (
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestRosterForgetsNoEventType(t *testing.T) {
	if f := folds.Forgotten(); len(f) > 0 {
		t.Fatalf("the roster neither folds nor ignores %v: declare each in folds", f)
	}
}

func TestRosterFoldsEveryMembershipChange(t *testing.T) {
	for _, typ := range []events.Type{events.TypeConversationCreated, events.TypeMemberJoined, events.TypeMemberLeft} {
		if !folds.Handles(typ) {
			t.Errorf("the roster does not fold %s, which changes who is in a conversation", typ)
		}
	}
}
