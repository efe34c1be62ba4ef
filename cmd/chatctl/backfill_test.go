package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/testkit"
)

// backfillRun runs chatctl backfill against a fresh NATS and reports the
// exit code, outputs and how many events the log gained.
func backfillRun(t *testing.T, content string, flags ...string) (int, string, string, uint64) {
	t.Helper()
	js := testkit.NATS(t, jet.StreamOptions{})
	file := filepath.Join(t.TempDir(), "history.jsonl")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"backfill", "--jwt-secret", secret, "--nats-url", js.Conn().ConnectedUrl()}, flags...)
	code, out, errOut := chatctl(noEnv, append(args, file)...)
	last, err := jet.LastSeq(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return code, out, errOut, last
}

const goodConv = `{"type":"conversation","app":"geosector","id":"c1","kind":"group","createdBy":"alice","members":[{"userId":"alice","role":"admin"}],"at":"2025-01-01T00:00:00Z"}`
const goodMsg = `{"type":"message","app":"geosector","id":"m1","conversationId":"c1","senderId":"alice","content":"hi","at":"2025-01-01T00:01:00Z"}`
const badMsg = `{"type":"message","app":"geosector","id":"m2","conversationId":"c1","senderId":"al ice","content":"hi","at":"2025-01-01T00:01:00Z"}`

func TestBackfillWithABadLineAppendsNothing(t *testing.T) {
	code, _, errOut, appended := backfillRun(t, strings.Join([]string{goodConv, badMsg, goodMsg}, "\n"))
	if code != 2 || !strings.Contains(errOut, "line 2: senderId:") || !strings.Contains(errOut, "nothing appended") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if appended != 0 {
		t.Fatalf("a refused file appended %d events", appended)
	}
}

func TestBackfillDryRunReportsAndAppendsNothing(t *testing.T) {
	code, out, errOut, appended := backfillRun(t, goodConv+"\n"+goodMsg+"\n", "--dry-run")
	if code != 0 || !strings.Contains(out, "would import 2 lines") || !strings.Contains(out, "3 events") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if appended != 0 {
		t.Fatalf("a dry run appended %d events", appended)
	}
}

func TestBackfillSkipInvalidListsSkippedLinesAndImportsTheRest(t *testing.T) {
	code, out, errOut, appended := backfillRun(t, strings.Join([]string{goodConv, badMsg, goodMsg}, "\n"), "--skip-invalid")
	if code != 0 || !strings.Contains(errOut, "invalid: line 2: senderId:") || !strings.Contains(out, "1 invalid lines skipped") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if appended != 3 {
		t.Fatalf("appended %d events, want 3 (conversation, posting, decision)", appended)
	}
}

func TestBackfillNeedsExactlyOneFile(t *testing.T) {
	code, _, errOut := chatctl(noEnv, "backfill", "--jwt-secret", secret)
	if code != 2 || !strings.Contains(errOut, "FILE") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = chatctl(noEnv, "backfill", "--jwt-secret", secret, "/no/such/file.jsonl")
	if code != 2 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestReplayRefusesContradictoryFlags(t *testing.T) {
	code, _, errOut := chatctl(noEnv, "replay", "--jwt-secret", secret, "--batch", "0")
	if code != 2 || !strings.Contains(errOut, "--batch") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
