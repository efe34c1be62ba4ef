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

// FuzzBackfillLine: whatever a line holds, it becomes valid events or an
// error naming its line, never a panic.
func FuzzBackfillLine(f *testing.F) {
	f.Add(`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"hi","at":"2025-01-01T00:00:00Z"}`)
	f.Add(`{"type":"member","app":"geosector","conversationId":"c1","userId":"bob","role":"admin","at":"2025-01-01T00:00:00Z"}`)
	f.Add(convLine)
	f.Add(`{"type":"message","content":"a","Content":"b"}`)
	f.Add(`{"members":[{"userId":"a","userId":"b"}]}`)
	apps := config.Defaults()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return // one line at a time
		}
		file, err := backfill.Parse(strings.NewReader(convLine+"\n"+line), apps, now)
		if err != nil {
			return // a line past the length bound fails the whole file
		}
		if len(file.Items)+len(file.Invalid) > 2 {
			t.Fatalf("two lines gave %d items and %d errors", len(file.Items), len(file.Invalid))
		}
		for _, e := range file.Invalid {
			if e.Line != 2 || !strings.HasPrefix(e.Error(), "line 2: ") {
				t.Fatalf("error %q", e)
			}
		}
		for _, it := range file.Items[1:] {
			for _, e := range it.Events {
				if _, err := e.Payload(); err != nil {
					t.Fatalf("accepted line gives an invalid event: %v", err)
				}
				if e.At.After(now) {
					t.Fatalf("accepted an event in the future: %v", e.At)
				}
			}
		}
	})
}
