package events

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	fastjson "github.com/goccy/go-json"
)

// note is a synthetic event type, for the catalogue's mechanics only. Its
// history: version 1 stored {"body"}; version 2 renamed it to "text";
// version 3 added "lang", which version-2 events lack and read as "und".
type note struct {
	Text string `json:"text"`
	Lang string `json:"lang"`
}

func (*note) EventType() Type { return "NoteWritten" }
func (n *note) Validate() error {
	if n.Text == "" {
		return errors.New("text: empty")
	}
	return nil
}
func (*note) scopeID() string { return "c1" }

// rename moves one field of a JSON object to a new name.
func rename(from, to string) Upgrade {
	return func(data []byte) ([]byte, error) {
		var m map[string]any
		if err := fastjson.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		m[to] = m[from]
		delete(m, from)
		return fastjson.Marshal(m)
	}
}

var notes = newCatalogue(Spec{Type: "NoteWritten", Version: 3, Scope: ScopeConversation,
	New: func() Payload { return new(note) },
	Upgrades: map[int]Upgrade{
		1: rename("body", "text"),
		2: func(data []byte) ([]byte, error) {
			return append(bytes.TrimSuffix(bytes.TrimSpace(data), []byte("}")), []byte(`,"lang":"und"}`)...), nil
		},
	}})

func TestOldVersionsAreUpgradedToTheCurrentOneWhenDecoded(t *testing.T) {
	cases := []struct {
		v    int
		data string
		want note
	}{
		{1, `{"body":"salut"}`, note{Text: "salut", Lang: "und"}},
		{2, `{"text":"salut"}`, note{Text: "salut", Lang: "und"}},
		{3, `{"text":"salut","lang":"fr"}`, note{Text: "salut", Lang: "fr"}},
	}
	for _, tc := range cases {
		e := &Envelope{ID: "e1", Type: "NoteWritten", V: tc.v, App: "a", Data: []byte(tc.data)}
		p, err := notes.payload(e)
		if err != nil {
			t.Fatalf("version %d: %v", tc.v, err)
		}
		if got := *p.(*note); got != tc.want {
			t.Errorf("version %d reads as %+v, want %+v", tc.v, got, tc.want)
		}
		if string(e.Data) != tc.data || e.V != tc.v {
			t.Errorf("version %d: the stored envelope changed to v%d %s", tc.v, e.V, e.Data)
		}
	}
}

func TestUpgradedDataIsValidatedAsTheCurrentVersion(t *testing.T) {
	// Version 1 without "body" upgrades to an empty text, which version 3 refuses.
	e := &Envelope{ID: "e1", Type: "NoteWritten", V: 1, App: "a", Data: []byte(`{"title":"x"}`)}
	if _, err := notes.payload(e); err == nil || !strings.Contains(err.Error(), "text: empty") {
		t.Fatalf("payload error = %v, want the current version's validation", err)
	}
	e = &Envelope{ID: "e2", Type: "NoteWritten", V: 1, App: "a", Data: []byte(`"not an object"`)}
	if _, err := notes.payload(e); err == nil || !strings.Contains(err.Error(), "upgrade NoteWritten e2 from version 1") {
		t.Fatalf("payload error = %v, want the failed upgrade named", err)
	}
}

func TestVersionsNewerThanTheCatalogueAreRefused(t *testing.T) {
	for _, v := range []int{0, 4} {
		e := &Envelope{ID: "e1", Type: "NoteWritten", V: v, App: "a", Data: []byte(`{"text":"x"}`)}
		if err := notes.checkVersion(e); err == nil || !strings.Contains(err.Error(), "unsupported version") {
			t.Errorf("version %d: %v", v, err)
		}
		if _, err := notes.payload(e); err == nil {
			t.Errorf("version %d decoded", v)
		}
	}
}

func TestCatalogueRefusesInconsistentEntries(t *testing.T) {
	mk := func() Payload { return new(note) }
	cases := map[string][]Spec{
		"missing upgrade": {{Type: "NoteWritten", Version: 2, Scope: ScopeConversation, New: mk}},
		"twice": {{Type: "NoteWritten", Version: 1, Scope: ScopeConversation, New: mk},
			{Type: "NoteWritten", Version: 1, Scope: ScopeConversation, New: mk}},
		"wrong constructor": {{Type: "NoteEdited", Version: 1, Scope: ScopeConversation, New: mk}},
		"no scope":          {{Type: "NoteWritten", Version: 1, New: mk}},
		"no version":        {{Type: "NoteWritten", Scope: ScopeConversation, New: mk}},
		"no constructor":    {{Type: "NoteWritten", Version: 1, Scope: ScopeConversation}},
	}
	for name, specs := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("accepted")
				}
			}()
			newCatalogue(specs...)
		})
	}
}

func TestEveryCatalogueTypeIsWrittenAtItsCurrentVersion(t *testing.T) {
	for _, typ := range Types {
		s, ok := SpecOf(typ)
		if !ok || s.Type != typ {
			t.Fatalf("SpecOf(%s) = %+v, %v", typ, s, ok)
		}
		if got := typ.Dotted(); got != dotted(typ) {
			t.Errorf("%s: catalogue subject token %q, computed %q", typ, got, dotted(typ))
		}
	}
	e, err := New("e1", "a", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actor{ID: "x", Type: ActorSystem}, &MemberLeft{ConversationID: "c", UserID: "u", RemovedBy: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := SpecOf(TypeMemberLeft); e.V != s.Version {
		t.Fatalf("New wrote version %d, the catalogue says %d", e.V, s.Version)
	}
	if _, ok := SpecOf("Nope"); ok {
		t.Fatal("SpecOf found an unknown type")
	}
}
