// Package daemontest starts a whole chatd for end-to-end tests, on random
// ports with a fresh database, and drives it over HTTP.
package daemontest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatbackend/chat/events"
	"github.com/chatbackend/chat/services/auth"
	"github.com/chatbackend/chat/services/config"
	"github.com/chatbackend/chat/services/daemon"
	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/natsauth"
	"github.com/chatbackend/chat/services/testkit"
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
		"--data-dir=" + t.TempDir(), "--database-url=" + testkit.Postgres(t), "--jwt-secret=" + string(Secret),
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
	d, err := daemon.Start(ctx, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("start chatd: %v", err)
	}
	t.Cleanup(d.Stop)
	c := &Chat{Daemon: d, Cfg: cfg, t: t}
	testkit.Eventually(t, 30*time.Second, "chatd ready", func() bool {
		status, _ := c.Do("GET", "/readyz", "", nil)
		return status == http.StatusOK
	})
	return c
}

// Chatd starts a daemon with a default test configuration.
func Chatd(t testing.TB, opts ...Option) *Chat { return Start(t, Config(t, opts...)) }

// LastSeq is the position of the newest event in the log.
func (c *Chat) LastSeq() uint64 {
	c.t.Helper()
	seq, err := jet.LastSeq(context.Background(), c.JetStream())
	if err != nil {
		c.t.Fatal(err)
	}
	return seq
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

// Unlimited lifts the per-user rate limits, for tests that send faster than
// a person would.
func Unlimited(cfg *config.Config) {
	for _, a := range cfg.Apps {
		a.Limits.CommandsPerSecond, a.Limits.CommandBurst = 1e6, 1e6
		a.Limits.RESTWritesPerSecond, a.Limits.RESTWriteBurst = 1e6, 1e6
	}
}

// NATSURL is the embedded NATS server's URL with user and password in it.
func (c *Chat) NATSURL(user, password string) string {
	c.t.Helper()
	u, err := url.Parse(c.Daemon.NATSURL())
	if err != nil {
		c.t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// ServiceAccount records svc's account as chatctl service does and returns
// its NATS URL once chatd accepts it.
func (c *Chat) ServiceAccount(svc natsauth.Service) string {
	c.t.Helper()
	e, err := events.New(events.ServiceAccountID(svc.App, svc.Name), svc.App, time.Now(),
		events.Actor{ID: "test", Type: events.ActorSystem}, &events.ServiceAccountCreated{Name: svc.Name})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := jet.NewAppender(c.JetStream()).Append(context.Background(), e); err != nil {
		c.t.Fatal(err)
	}
	// Connect only once the server has loaded the account: nats-server
	// races (its race detector says so) when a client connects while it
	// reloads its users.
	testkit.Eventually(c.t, 10*time.Second, "chatd accepts the new service account", func() bool {
		return c.AcceptsNATSUser(svc.User())
	})
	return c.NATSURL(svc.User(), svc.Password(c.NATSSecret()))
}

// NATSSecret is chatd's NATS password, generated into its data directory.
func (c *Chat) NATSSecret() string {
	c.t.Helper()
	s, err := c.Cfg.NATSSecret()
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// HoldProjector holds the projection's lock from another connection, as a
// replay finishing does: the projector's position stops until release.
func (c *Chat) HoldProjector() (release func()) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.Cfg.DatabaseURL)
	if err != nil {
		c.t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('chat-projector:' || $1::text))", c.Cfg.DBSchema); err != nil {
		c.t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	c.t.Cleanup(release)
	return release
}
