package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon/daemontest"
	"github.com/chatbackend/chat/services/testkit"
	"github.com/chatbackend/chat/services/webhooks"
)

// hookServer is a webhook endpoint that fails its first failFirst requests
// (or all of them with failFirst < 0) and records every request.
type hookServer struct {
	*httptest.Server
	mu        sync.Mutex
	failFirst int
	requests  []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
	ok     bool
}

func newHookServer(t *testing.T, failFirst int) *hookServer {
	h := &hookServer{failFirst: failFirst}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		ok := h.failFirst >= 0 && len(h.requests) >= h.failFirst
		h.requests = append(h.requests, hookRequest{r.Header.Clone(), body, ok})
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

// delivered is what the endpoint accepted, in order.
func (h *hookServer) delivered() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookRequest
	for _, r := range h.requests {
		if r.ok {
			out = append(out, r)
		}
	}
	return out
}

func (h *hookServer) all() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.requests...)
}

func quickWebhooks(c *config.Config) {
	c.Webhooks.AllowPrivate = true // the test endpoints are on loopback
	c.Webhooks.RetryFirst = 10 * time.Millisecond
	c.Webhooks.Attempts = 4
}

func TestWebhookIsSignedRetriedAndIdempotent(t *testing.T) {
	c := daemontest.Chatd(t, quickWebhooks)
	hook := newHookServer(t, 2) // down for two requests, then back
	admin := c.Token("geosector", "boss", "admin")
	const secret = "s3cret-s3cret-s3cret"
	status, body := c.Do("PUT", "/api/chat/webhooks", admin, []map[string]any{{
		"id": "audit", "url": hook.URL + "/chat", "events": []string{"conversation.created", "member.joined"}, "secret": secret}})
	if status != http.StatusOK || !strings.Contains(string(body), secret) {
		t.Fatalf("PUT /webhooks: %d %s", status, body)
	}
	if raw := lastEvent(t, c); strings.Contains(string(raw), secret) {
		t.Fatalf("the log holds the secret in clear: %s", raw)
	}

	conv := group(t, c, "alice", "bob")
	if status, body := c.Do("POST", "/api/chat/conversations/"+conv+"/participants", c.Token("geosector", "alice", "member"),
		map[string]any{"userIds": []string{"carol"}}); status >= 300 {
		t.Fatalf("add carol: %d %s", status, body)
	}
	testkit.Eventually(t, 20*time.Second, "both events delivered", func() bool { return len(hook.delivered()) == 2 })

	got := hook.delivered()
	for i, want := range []events.Type{events.TypeConversationCreated, events.TypeMemberJoined} {
		r := got[i]
		e, err := events.Decode(r.body)
		if err != nil || e.Type != want {
			t.Fatalf("delivery %d: %v %v, want a %s", i, e, err, want)
		}
		if r.header.Get("X-Chat-Event") != want.Dotted() {
			t.Errorf("delivery %d: X-Chat-Event %q", i, r.header.Get("X-Chat-Event"))
		}
		if sig := r.header.Get("X-Chat-Signature"); sig != webhooks.Sign(secret, r.body) {
			t.Errorf("delivery %d: signature %q does not match the body", i, sig)
		}
	}
	// The two failed attempts and the delivery carry one idempotency id.
	attempts := hook.all()
	if len(attempts) != 4 {
		t.Fatalf("%d requests, want 2 failed and 2 delivered", len(attempts))
	}
	id := attempts[0].header.Get("X-Chat-Delivery")
	if id == "" || attempts[1].header.Get("X-Chat-Delivery") != id || attempts[2].header.Get("X-Chat-Delivery") != id {
		t.Errorf("delivery ids of the retries: %q %q %q", id, attempts[1].header.Get("X-Chat-Delivery"), attempts[2].header.Get("X-Chat-Delivery"))
	}
	if attempts[3].header.Get("X-Chat-Delivery") == id {
		t.Error("two events share a delivery id")
	}
}

func TestDeadWebhookIsParkedWithoutHoldingUpTheOthers(t *testing.T) {
	c := daemontest.Chatd(t, quickWebhooks)
	dead := newHookServer(t, -1)
	alive := newHookServer(t, 0)
	admin := c.Token("geosector", "boss", "admin")
	if status, body := c.Do("PUT", "/api/chat/webhooks", admin, []map[string]any{
		{"id": "dead", "url": dead.URL, "events": []string{"*"}},
		{"id": "alive", "url": alive.URL, "events": []string{"conversation.created"}},
	}); status != http.StatusOK {
		t.Fatalf("PUT /webhooks: %d %s", status, body)
	}
	group(t, c, "alice", "bob")
	group(t, c, "alice", "carol")
	testkit.Eventually(t, 20*time.Second, "the live endpoint served", func() bool { return len(alive.delivered()) == 2 })
	testkit.Eventually(t, 20*time.Second, "the dead endpoint's events parked", func() bool {
		return len(deadLetters(t, c, "attempts failed")) == 2
	})
	if n := len(dead.all()); n != 2*c.Cfg.Webhooks.Attempts {
		t.Errorf("the dead endpoint got %d requests, want %d attempts of each of 2 events", n, c.Cfg.Webhooks.Attempts)
	}

	// Removing every webhook removes their consumers: nothing more is sent.
	if status, body := c.Do("PUT", "/api/chat/webhooks", admin, []any{}); status != http.StatusOK || string(body) != "[]\n" {
		t.Fatalf("PUT []: %d %s", status, body)
	}
	testkit.Eventually(t, 20*time.Second, "the webhooks' consumers removed", func() bool {
		return len(webhookConsumers(t, c)) == 0
	})
}

func TestWebhooksRestartWhereTheyStopped(t *testing.T) {
	cfg := daemontest.Config(t, quickWebhooks)
	c := daemontest.Start(t, cfg)
	hook := newHookServer(t, 0)
	admin := c.Token("geosector", "boss", "admin")
	if status, body := c.Do("PUT", "/api/chat/webhooks", admin, []map[string]any{
		{"id": "audit", "url": hook.URL, "events": []string{"conversation.created"}}}); status != http.StatusOK {
		t.Fatalf("PUT /webhooks: %d %s", status, body)
	}
	group(t, c, "alice", "bob")
	testkit.Eventually(t, 20*time.Second, "the first event delivered", func() bool { return len(hook.delivered()) == 1 })
	c.Stop()

	c = daemontest.Start(t, cfg)
	second := group(t, c, "alice", "carol")
	testkit.Eventually(t, 20*time.Second, "the second conversation delivered", func() bool {
		got := hook.delivered()
		return strings.Contains(string(got[len(got)-1].body), second)
	})
	if n := len(hook.delivered()); n != 2 {
		t.Fatalf("%d deliveries after a restart, want 2 (nothing sent twice)", n)
	}
	if names := webhookConsumers(t, c); len(names) != 1 {
		t.Fatalf("webhook consumers after a restart: %v", names)
	}
}

func TestWebhooksBadInputAppendsNothing(t *testing.T) {
	c := daemontest.Chatd(t, quickWebhooks)
	admin := c.Token("geosector", "boss", "admin")
	good := map[string]any{"id": "audit", "url": "https://hooks.example.com/chat", "events": []string{"message.posted"}}
	with := func(k string, v any) []map[string]any {
		w := map[string]any{}
		for key, val := range good {
			w[key] = val
		}
		w[k] = v
		return []map[string]any{w}
	}
	before := c.LastSeq()
	expectRefusals(t, c, "PUT", "/api/chat/webhooks", []refusal{
		{"a member", c.Token("geosector", "alice", "member"), []any{good}, 403, "forbidden"},
		{"no token", "", []any{good}, 401, "unauthenticated"},
		{"an object", admin, good, 400, "invalid_payload"},
		{"null", admin, []byte("null"), 400, "invalid_payload"},
		{"ftp URL", admin, with("url", "ftp://hooks.example.com/"), 400, "invalid_payload"},
		{"no host", admin, with("url", "https:///x"), 400, "invalid_payload"},
		{"unknown event", admin, with("events", []string{"message.exploded"}), 400, "invalid_payload"},
		{"internal event", admin, with("events", []string{"webhooks.changed"}), 400, "invalid_payload"},
		{"no events", admin, with("events", []string{}), 400, "invalid_payload"},
		{"short secret", admin, with("secret", "short"), 400, "invalid_payload"},
		{"bad id", admin, with("id", "a.b"), 400, "invalid_payload"},
		{"unknown field", admin, with("retries", 3), 400, "invalid_payload"},
		{"same id twice", admin, []any{good, good}, 400, "invalid_payload"},
		{"huge", admin, with("url", "https://hooks.example.com/"+strings.Repeat("a", 2<<20)), 413, "too_large"},
	})
	expectRefusals(t, c, "GET", "/api/chat/webhooks", []refusal{{"a member", c.Token("geosector", "alice", "member"), nil, 403, "forbidden"}})
	if after := c.LastSeq(); after != before {
		t.Fatalf("refused writes appended %d events", after-before)
	}

	// The same document twice is one change; an omitted secret is kept.
	status, first := c.Do("PUT", "/api/chat/webhooks", admin, []any{good})
	if status != http.StatusOK {
		t.Fatalf("PUT: %d %s", status, first)
	}
	seq := c.LastSeq()
	if status, again := c.Do("PUT", "/api/chat/webhooks", admin, []any{good}); status != http.StatusOK || string(again) != string(first) {
		t.Fatalf("the same PUT again: %d %s, want %s", status, again, first)
	}
	if status, got := c.Do("GET", "/api/chat/webhooks", admin, nil); status != http.StatusOK || string(got) != string(first) {
		t.Fatalf("GET: %d %s, want %s", status, got, first)
	}
	if c.LastSeq() != seq {
		t.Fatal("an unchanged document appended an event")
	}
	var views []webhooks.View
	if err := json.Unmarshal(first, &views); err != nil || len(views) != 1 || views[0].Secret == nil || len(*views[0].Secret) < webhooks.MinSecret {
		t.Fatalf("a generated secret: %s", first)
	}
	// Another application sees none of them.
	if status, got := c.Do("GET", "/api/chat/webhooks", c.Token("resalice", "boss", "admin"), nil); status != http.StatusOK || string(got) != "[]\n" {
		t.Fatalf("resalice's webhooks: %d %s", status, got)
	}
}

// lastEvent is the newest event's stored bytes.
func lastEvent(t *testing.T, c *daemontest.Chat) []byte {
	t.Helper()
	s, err := c.JetStream().Stream(context.Background(), events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), c.LastSeq())
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

// deadLetters are the parked events whose reason contains why.
func deadLetters(t *testing.T, c *daemontest.Chat, why string) []uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := c.JetStream().Stream(ctx, events.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if strings.Contains(m.Header.Get(events.HeaderReason), why) {
			out = append(out, seq)
		}
	}
	return out
}

func webhookConsumers(t *testing.T, c *daemontest.Chat) []string {
	t.Helper()
	ctx := context.Background()
	s, err := c.JetStream().Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	names := s.ConsumerNames(ctx)
	for n := range names.Name() {
		if strings.HasPrefix(n, "webhook_") {
			out = append(out, n)
		}
	}
	if err := names.Err(); err != nil && err != jetstream.ErrEndOfData {
		t.Fatal(err)
	}
	return out
}

// refusal is a request expected to be refused with status and code.
type refusal struct {
	name, token string
	body        any
	status      int
	code        string
}

// expectRefusals sends each case to path and checks its refusal.
func expectRefusals(t *testing.T, c *daemontest.Chat, method, path string, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		status, body := c.Do(method, path, tc.token, tc.body)
		if status != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s %s, %s: %d %s, want %d %s", method, path, tc.name, status, body, tc.status, tc.code)
		}
	}
}
