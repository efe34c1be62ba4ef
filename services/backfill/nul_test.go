package backfill_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/backfill"
	"github.com/chatbackend/chat/services/config"
)

func TestBackfillRefusesNULInEveryTextField(t *testing.T) {
	const conv = `{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`
	content := strings.Join([]string{
		conv,
		`{"type":"conversation","app":"geosector","id":"c2","kind":"group","title":"team\u0000","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"\u0000","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m2","conversationId":"c1","senderId":"alice","content":"bonjour \u0000 à tous","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m3","conversationId":"c1","senderId":"alice","content":"fine","at":"2025-01-01T00:00:00Z"}`,
	}, "\n")
	f, err := backfill.Parse(strings.NewReader(content), config.Defaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"line 2: title: contains the NUL character", "line 3: content: contains the NUL character", "line 4: content: contains the NUL character"}
	if len(f.Invalid) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(f.Invalid), len(want), f.Invalid)
	}
	for i, w := range want {
		if !strings.HasPrefix(f.Invalid[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, f.Invalid[i], w)
		}
	}
	if len(f.Items) != 2 || f.Items[0].Line != 1 || f.Items[1].Line != 5 {
		t.Fatalf("valid items: %+v", f.Items)
	}
}
