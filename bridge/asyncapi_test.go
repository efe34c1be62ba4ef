package bridge_test

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/chatbackend/chat/events"
)

// The AsyncAPI document names every event type the log may hold, and only
// those, wherever it lists them.
func TestAsyncAPIListsEveryEventType(t *testing.T) {
	b, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(events.Types))
	for i, typ := range events.Types {
		want[i] = string(typ)
	}
	slices.Sort(want)
	for _, where := range []struct{ schema, property string }{{"EventHeaders", "Chat-Type"}, {"StoredEnvelope", "type"}} {
		got := slices.Clone(doc.Components.Schemas[where.schema].Properties[where.property].Enum)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s.%s lists %v, the catalogue %v", where.schema, where.property, got, want)
		}
	}
}
