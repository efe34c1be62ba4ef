package projections

import "testing"

func TestKnownMessagesTellsAppAndIDApart(t *testing.T) {
	k := newKnownMessages(0)
	k.add(k.key(msgKey{"geosector", "m1"}))
	for _, m := range []msgKey{{"geosector", "m2"}, {"geosecto", "rm1"}, {"other", "m1"}, {"", "geosectorm1"}} {
		if k.has(k.key(m)) {
			t.Errorf("%v is known after adding only geosector/m1", m)
		}
	}
	if !k.has(k.key(msgKey{"geosector", "m1"})) {
		t.Error("geosector/m1 is not known after adding it")
	}
}
