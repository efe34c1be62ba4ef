package events_test

import (
	"strings"
	"testing"

	"github.com/chatbackend/chat/events"
)

func TestValidIDAcceptsOnlyShortASCIITokens(t *testing.T) {
	cases := []struct {
		name string
		id   string
		want bool
	}{
		{"single letter", "a", true},
		{"all allowed characters", "AZaz09_-", true},
		{"anonymous visitor", "anon-3f2a", true},
		{"64 characters", strings.Repeat("x", 64), true},
		{"65 characters", strings.Repeat("x", 65), false},
		{"empty", "", false},
		{"slash", "a/b", false},
		{"dot", "a.b", false},
		{"space", "a b", false},
		{"plus", "a+b", false},
		{"hash", "a#b", false},
		{"star", "a*b", false},
		{"greater than", "a>b", false},
		{"dollar", "$SYS", false},
		{"nul byte", "a\x00b", false},
		{"newline", "a\n", false},
		{"accented letter", "andré", false},
		{"emoji", "👋", false},
		{"32 two-byte runes", strings.Repeat("é", 32), false},
		{"fullwidth letter", "ａ", false},
	}
	for _, tc := range cases {
		if got := events.ValidID(tc.id); got != tc.want {
			t.Errorf("%s: ValidID(%q) = %v, want %v", tc.name, tc.id, got, tc.want)
		}
	}
}

func TestMessageIDIsDeterministic(t *testing.T) {
	a := events.MessageID("geosector", "alice", "k1")
	b := events.MessageID("geosector", "alice", "k1")
	if a != b {
		t.Fatalf("MessageID differs between calls: %q vs %q", a, b)
	}
	if !events.ValidID(a) {
		t.Fatalf("MessageID %q is not a valid id", a)
	}
}

func TestMessageIDDistinguishesEveryInput(t *testing.T) {
	inputs := [][3]string{
		{"geosector", "alice", "k1"},
		{"resalice", "alice", "k1"},
		{"geosector", "bob", "k1"},
		{"geosector", "alice", "k2"},
		// no separator ambiguity between neighbouring parts
		{"geosector", "a", "bc"},
		{"geosector", "ab", "c"},
		{"geo", "sectoralice", "k1"},
		{"geosector", "alicek", "1"},
		{"", "", ""},
	}
	seen := map[string][3]string{}
	for _, in := range inputs {
		id := events.MessageID(in[0], in[1], in[2])
		if prev, dup := seen[id]; dup {
			t.Errorf("MessageID%v = MessageID%v = %q", in, prev, id)
		}
		seen[id] = in
	}
}

func TestOneToOneIDIsSymmetric(t *testing.T) {
	for _, pair := range [][2]string{{"alice", "bob"}, {"bob", "alice"}, {"a", "b"}, {"Z", "a"}, {"x", "x"}} {
		ab := events.OneToOneID("geosector", pair[0], pair[1])
		ba := events.OneToOneID("geosector", pair[1], pair[0])
		if ab != ba {
			t.Errorf("OneToOneID(%q,%q) = %q but reversed = %q", pair[0], pair[1], ab, ba)
		}
		if !events.ValidID(ab) {
			t.Errorf("OneToOneID %q is not a valid id", ab)
		}
	}
}

func TestOneToOneIDDistinguishesPairsAndApps(t *testing.T) {
	ids := map[string]string{
		events.OneToOneID("geosector", "alice", "bob"):   "geosector alice/bob",
		events.OneToOneID("resalice", "alice", "bob"):    "resalice alice/bob",
		events.OneToOneID("geosector", "alice", "carol"): "geosector alice/carol",
		events.OneToOneID("geosector", "a", "bc"):        "geosector a/bc",
		events.OneToOneID("geosector", "ab", "c"):        "geosector ab/c",
	}
	if len(ids) != 5 {
		t.Fatalf("distinct pairs share an id: %v", ids)
	}
	if events.OneToOneID("geosector", "alice", "bob") == events.MessageID("geosector", "alice", "bob") {
		t.Fatal("a conversation id equals a message id for the same inputs")
	}
}

func TestGeneratedIDsAreValidAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		for _, id := range []string{events.NewConversationID(), events.NewEventID()} {
			if !events.ValidID(id) {
				t.Fatalf("generated id %q is not valid", id)
			}
			if seen[id] {
				t.Fatalf("generated id %q twice", id)
			}
			seen[id] = true
		}
	}
}
