package backfill_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/backfill"
	"github.com/chatbackend/chat/services/config"
)

const convLine = `{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`

func TestBackfillRefusesAmbiguousJSON(t *testing.T) {
	msg := func(fields string) string {
		return `{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","at":"2025-01-01T00:00:00Z",` + fields + `}`
	}
	for _, tc := range []struct{ name, line, want string }{
		{"duplicate key", msg(`"content":"a","content":"b"`), "line 2: content: appears more than once"},
		{"key in another case", msg(`"content":"a","CONTENT":"b"`), `line 2: CONTENT: unknown field; field names are case-sensitive: "content"`},
		{"nested duplicate", strings.Replace(convLine, `"role":"admin"`, `"role":"member","role":"admin"`, 1), "line 2: members[0].role: appears more than once"},
		{"nested key in another case", strings.Replace(convLine, `"userId"`, `"UserId"`, 1), `line 2: members[0].UserId: unknown field; field names are case-sensitive: "userId"`},
		{"wrong type", msg(`"content":["a"]`), "line 2: content: expected a string, got a list"},
		{"time not RFC 3339", strings.Replace(msg(`"content":"a"`), "2025-01-01T00:00:00Z", "yesterday", 1), "line 2: at: expected an RFC 3339 time, got a string"},
		{"not UTF-8", msg("\"content\":\"\xff\""), "line 2: not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := backfill.Parse(strings.NewReader(convLine+"\n"+tc.line), config.Defaults(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Items) != 1 || len(f.Invalid) != 1 || f.Invalid[0].Error() != tc.want {
				t.Fatalf("items %d, invalid %v, want %q", len(f.Items), f.Invalid, tc.want)
			}
		})
	}
}
