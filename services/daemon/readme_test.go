package daemon_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
)

// walkthrough is the sh block of the README's "Trying it" section.
func walkthrough(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Trying it\n")
	_, block, ok2 := strings.Cut(section, "\n```sh\n")
	block, _, ok3 := strings.Cut(block, "\n```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no sh block under \"## Trying it\"")
	}
	return block
}

// The README's walkthrough runs as written against a real chatd (on this
// test's ports, with its JWT key): alice's edit lands in the history and
// bob's read receipt reaches alice's receipts topic, and the catch-up call
// answers a page of bob's deliveries.
func TestReadmeWalkthroughRunsAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "mosquitto_pub", "mosquitto_sub", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", tool)
			}
			t.Skipf("SKIPPED, %s missing (run `go tool task test`)", tool)
		}
	}
	c := daemontest.Chatd(t)
	alice := connect(t, c, "alice")
	_, mqttPort, _ := net.SplitHostPort(c.MQTTAddr())
	script := walkthrough(t)
	script = strings.ReplaceAll(script, "127.0.0.1:8080", c.HTTPAddr())
	script = strings.ReplaceAll(script, "-p 1883", "-p "+mqttPort)
	// The listeners it starts in the background end with it.
	script = "set -e\n" + script + "\nkill $(jobs -p) 2>/dev/null || true\nwait\n"

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = testkit.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CHAT_JWT_SECRET="+string(daemontest.Secret), "CHAT_DATA_DIR="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, out.String())
	}

	if !strings.Contains(out.String(), `{"events":[{"type":"conversation.created"`) {
		t.Fatalf("the sync line did not answer bob's deliveries from the start:\n%s", out.String())
	}
	got := alice.WaitType("read.receipt", `"userId":"bob"`)
	if got.Topic != "chat/user/alice/receipts" {
		t.Fatalf("read.receipt on %s", got.Topic)
	}
	conv := testkit.JSON[receiptData](t, got.Data).ConversationID
	waitHistory(t, c, conv, "bob", func(h history) bool {
		return len(h.Messages) == 1 && h.Messages[0].Content == "hello bob, edited"
	})
}
