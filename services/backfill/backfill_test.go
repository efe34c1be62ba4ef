package backfill_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/backfill"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

func example(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "deploy", "backfill", "example.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t *testing.T, content []byte) *backfill.File {
	t.Helper()
	f, err := backfill.Parse(strings.NewReader(string(content)), config.Defaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Invalid) > 0 {
		t.Fatalf("invalid lines: %v", f.Invalid)
	}
	return f
}

func TestExampleFileIsValid(t *testing.T) {
	f := parse(t, example(t))
	want := map[string]int{"conversation": 2, "member": 1, "member_left": 1, "message": 3}
	for typ, n := range want {
		if f.Counts()[typ] != n {
			t.Errorf("%s: %d lines, want %d", typ, f.Counts()[typ], n)
		}
	}
}

func TestBackfillTwiceAddsNothingEvenAfterTheDedupWindow(t *testing.T) {
	c := daemontest.Chatd(t, func(cfg *config.Config) { cfg.DedupWindow = 100 * time.Millisecond })
	bob := testkit.Connect(t, "tcp://"+c.MQTTAddr(), "chat", "bob", c.Token("geosector", "bob", "member"))
	im := &backfill.Importer{JS: c.JetStream(), Chunk: 3}
	ctx := context.Background()

	res, err := im.Import(ctx, parse(t, example(t)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 10 { // 7 lines: 3 messages are a posting and a decision each
		t.Fatalf("first import appended %d events, want 10", res.Appended)
	}
	bob.WaitType("message.new", "legacy-2001")

	// The same records in another file (another ledger entry) are appended
	// again once the log's window has passed: consumers must absorb them.
	// Attempts are spaced well past the window: an attempt refreshes the
	// ids it appended, so only a quiet window lets every id through at once.
	variant, last := 0, time.Now()
	testkit.Eventually(t, 30*time.Second, "a re-import past the dedup window", func() bool {
		if time.Since(last) < 500*time.Millisecond {
			return false
		}
		variant++
		again := append([]byte(fmt.Sprintf("# variant %d\n", variant)), example(t)...)
		r, err := im.Import(ctx, parse(t, again))
		if err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		return r.Appended == 10
	})
	// The original file again: the ledger knows it; nothing is appended.
	before := c.LastSeq()
	res, err = im.Import(ctx, parse(t, example(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyDone || res.Appended != 0 || c.LastSeq() != before {
		t.Fatalf("second import of the same file: %+v, log %d → %d", res, before, c.LastSeq())
	}

	// A live message after everything: once bob has it, he has had all.
	alice := testkit.Connect(t, "tcp://"+c.MQTTAddr(), "chat", "alice", c.Token("geosector", "alice", "member"))
	alice.Publish("chat/cmd/alice/send", `{"clientMsgId":"live-1","conversationId":"team-nord","content":"live after import"}`)
	bob.WaitType("message.new", "live after import")
	for _, id := range []string{"legacy-1001", "legacy-1002", "legacy-2001"} {
		n := 0
		for _, r := range bob.Of("message.new") {
			if strings.Contains(string(r.Data), `"id":"`+id+`"`) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("bob received %s %d times", id, n)
		}
	}
	if n := len(bob.Of("conversation.created")); n != 2 {
		t.Errorf("bob received %d conversation.created, want 2", n)
	}

	var h struct {
		Messages []struct {
			ID        string
			CreatedAt time.Time
		}
	}
	testkit.Eventually(t, 20*time.Second, "history with the live message", func() bool {
		status, body := c.Do("GET", "/api/chat/conversations/team-nord/messages", c.Token("geosector", "bob", "member"), nil)
		if status != http.StatusOK {
			t.Fatalf("history: %d %s", status, body)
		}
		h = testkit.JSON[struct {
			Messages []struct {
				ID        string
				CreatedAt time.Time
			}
		}](t, body)
		return len(h.Messages) >= 3
	})
	if len(h.Messages) != 3 || h.Messages[2].ID != "legacy-1001" ||
		!h.Messages[2].CreatedAt.Equal(time.Date(2025, 3, 1, 8, 10, 0, 0, time.UTC)) {
		t.Fatalf("history: %+v", h.Messages)
	}
	status, body := c.Do("GET", "/api/chat/conversations/team-nord/participants", c.Token("geosector", "bob", "member"), nil)
	if status != http.StatusOK || strings.Contains(string(body), "carol") || !strings.Contains(string(body), "alice") {
		t.Fatalf("participants: %d %s", status, body)
	}
}

func TestBackfillInvalidLinesNameLineAndField(t *testing.T) {
	content := strings.Join([]string{
		`{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m1","conversationId":"nope","senderId":"alice","content":"x","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"bad id","conversationId":"c1","senderId":"alice","content":"x","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m2","conversationId":"c1","senderId":"alice","content":"x"}`,
		`{"type":"message","app":"geosector","id":"m3","conversationId":"c1","senderId":"alice","content":"x","at":"2999-01-01T00:00:00Z"}`,
		`{"type":"member","app":"nosuch","conversationId":"c1","userId":"bob","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"member","app":"geosector","conversationId":"c1","userId":"bob","role":"owner","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"reaction","app":"geosector","at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m4","conversationId":"c1","senderId":"alice","content":"x","at":"2025-01-01T00:00:00Z","extra":1}`,
		`{not json`,
		`{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`,
		`{"type":"message","app":"geosector","id":"m5","conversationId":"c1","senderId":"alice","content":"fine","at":"2025-01-01T00:00:00Z"}`,
	}, "\n")
	f, err := backfill.Parse(strings.NewReader(content), config.Defaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"line 2: conversationId:", "line 3: id:", "line 4: at:", "line 5: at:", "line 6: app:",
		"line 7: role:", "line 8: type:", "line 9: extra: unknown field", "line 10: not valid JSON", "line 11: id:",
	}
	if len(f.Invalid) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(f.Invalid), len(want), f.Invalid)
	}
	for i, w := range want {
		if !strings.HasPrefix(f.Invalid[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, f.Invalid[i], w)
		}
	}
	if len(f.Items) != 2 || f.Items[1].Line != 12 {
		t.Fatalf("valid items: %+v", f.Items)
	}
}
