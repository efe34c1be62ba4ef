package backfill_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/backfill"
	"github.com/chatbackend/chat/services/config"
)

// FuzzParseLine feeds one line after a valid conversation to the backfill
// decoder: whatever the bytes, it must not panic, and every line it accepts
// must become events the catalogue accepts, with no NUL to stop the read
// model.
func FuzzParseLine(f *testing.F) {
	const conv = `{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`
	example, err := os.ReadFile(filepath.Join("..", "..", "deploy", "backfill", "example.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(example), "\n") {
		f.Add([]byte(line))
	}
	for _, s := range []string{
		conv,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"x","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"a\u0000b","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"\ud800","at":"2025-01-01T00:00:00Z"}`,
		"{\"type\":\"message\",\"app\":\"geosector\",\"id\":\"m1\",\"conversationId\":\"c1\",\"senderId\":\"alice\",\"content\":\"\xff\",\"at\":\"2025-01-01T00:00:00Z\"}",
		`{"type":"conversation","app":"geosector","id":"c2","kind":"group","title":"\u0000","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`,
		`{"type":"member","app":"geosector","conversationId":"c1","userId":"bob","role":"admin","by":"alice","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"member_left","app":"geosector","conversationId":"c1","userId":"bob","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"x","at":"2025-01-01T00:00:00Z"} {}`,
		`{"type":"message","members":[{"userId":null}],"at":"0000-01-01T00:00:00Z"}`,
		`[]`, `null`, `{`, "\x00", "",
		`{"type":"message","content":"a","Content":"b"}`,
		`{"members":[{"userId":"a","userId":"b"}]}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsAny(line, "\r\n") {
			return // one line at a time
		}
		file, err := backfill.Parse(strings.NewReader(conv+"\n"+string(line)), config.Defaults(), now)
		if err != nil {
			return // too long a line: refused as a whole, nothing parsed
		}
		if len(file.Items)+len(file.Invalid) > 2 {
			t.Fatalf("two lines gave %d items and %d errors", len(file.Items), len(file.Invalid))
		}
		for _, it := range file.Items {
			for _, e := range it.Events {
				if e.At.After(now) {
					t.Fatalf("line %d accepted an event in the future: %v", it.Line, e.At)
				}
				// Read back as every consumer reads it: from the stored bytes.
				stored, err := e.Encode()
				if err != nil {
					t.Fatalf("line %d: encode %s: %v", it.Line, e.Type, err)
				}
				if bytes.Contains(stored, []byte(`\u0000`)) || bytes.IndexByte(stored, 0) >= 0 {
					t.Fatalf("line %d accepted with a NUL: %s", it.Line, stored)
				}
				back, err := events.Decode(stored)
				if err == nil {
					_, err = back.Payload() // decodes and validates
				}
				if err != nil {
					t.Fatalf("line %d accepted as a %s no consumer can read: %v", it.Line, e.Type, err)
				}
			}
		}
		for _, bad := range file.Invalid {
			if bad.Line != 2 || !strings.HasPrefix(bad.Error(), "line 2: ") {
				t.Fatalf("the second line's error reads %q", bad)
			}
		}
	})
}
