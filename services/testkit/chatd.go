package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon"
)

// Secret is the JWT key of test daemons.
var Secret = []byte("test-secret-test-secret-test-secret-0123456789")

// Chat is a running chatd with every role, on random ports.
type Chat struct {
	*daemon.Daemon
	Cfg *config.Config
	t   testing.TB
}

// Option adjusts a test daemon's configuration before it starts.
type Option func(*config.Config)

// Config returns a configuration for a test daemon: random ports, a fresh
// database and data directory.
func Config(t testing.TB, opts ...Option) *config.Config {
	t.Helper()
	cfg, err := config.Load("chatd", []string{
		"--http-addr=127.0.0.1:0", "--mqtt-addr=127.0.0.1:0", "--mqtt-ws-addr=", "--nats-addr=127.0.0.1:0",
		"--data-dir=" + t.TempDir(), "--database-url=" + Postgres(t), "--jwt-secret=" + string(Secret),
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

// Start runs chatd with cfg until the test ends.
func Start(t testing.TB, cfg *config.Config) *Chat {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := daemon.Start(ctx, cfg, Logger(t))
	if err != nil {
		t.Fatalf("start chatd: %v", err)
	}
	t.Cleanup(d.Stop)
	c := &Chat{Daemon: d, Cfg: cfg, t: t}
	Eventually(t, 30*time.Second, "chatd ready", func() bool {
		status, _ := c.Do("GET", "/readyz", "", nil)
		return status == http.StatusOK
	})
	return c
}

// Chatd starts a daemon with a default test configuration.
func Chatd(t testing.TB, opts ...Option) *Chat { return Start(t, Config(t, opts...)) }

// Logger logs to the test output when CHAT_TEST_LOG=1, else discards.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("CHAT_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Token mints a token for user in app with role.
func (c *Chat) Token(app, user, role string) string {
	c.t.Helper()
	tok, err := auth.Mint(c.Cfg.JWTSecret, app, user, role, "", "", time.Hour, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// Do sends an HTTP request to the API and returns the status and body.
// body, when not nil and not []byte, is encoded as JSON.
func (c *Chat) Do(method, path, token string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, "http://"+c.HTTPAddr()+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// JSON decodes b into a fresh T, failing the test on error.
func JSON[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// Eventually waits for cond with a deadline, polling; it fails the test with
// what it was waiting for when the deadline passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait) // polling interval of a deadline-bounded wait, not synchronisation
		wait = min(2*wait, 50*time.Millisecond)
	}
}
