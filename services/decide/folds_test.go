package decide

import "testing"

func TestDecisionStateForgetsNoEventType(t *testing.T) {
	if f := folds.Forgotten(); len(f) > 0 {
		t.Fatalf("the decision state neither folds nor ignores %v: declare each in folds", f)
	}
}
