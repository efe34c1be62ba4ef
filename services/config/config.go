// Package config reads chatd's and chatctl's configuration: flags override
// CHAT_* environment variables, which override built-in defaults (PROTOCOL §5),
// plus one YAML file with per-application settings.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbackend/chat/services/jet"
	"github.com/chatbackend/chat/services/ratelimit"
)

// Roles chatd can run; "all" selects every one.
const (
	RoleBroker     = "broker"
	RoleBridge     = "bridge"
	RoleModeration = "moderation"
	RoleProjector  = "projector"
	RoleFanout     = "fanout"
	RoleAPI        = "api"
	RoleWebhooks   = "webhooks"
)

// AllRoles lists the roles in start order.
var AllRoles = []string{RoleBroker, RoleBridge, RoleModeration, RoleProjector, RoleFanout, RoleAPI, RoleWebhooks}

// Config is everything a process needs to find its peers.
type Config struct {
	HTTPAddr   string
	MQTTAddr   string
	MQTTWSAddr string
	MQTTURL    string // external broker; empty means embedded
	MQTTUser   string // the bridge's and fan-out's account on an external broker
	MQTTPass   string
	NATSURL    string // external NATS; empty means embedded
	NATSAddr   string
	// NATSReplicas is the replica count of the declared streams.
	NATSReplicas int
	DataDir      string
	DatabaseURL  string
	DBSchema     string
	JWTSecret    []byte
	ConfigFile   string
	Roles        []string
	Apps         Apps
	// DedupWindow is how long the log remembers event ids (JetStream's
	// duplicate window). Consumers deduplicate beyond it by message id.
	DedupWindow time.Duration
	// WriteWait bounds how long a REST write waits for the read model.
	WriteWait time.Duration
	// ProjectorStall is how long the projector may stay behind the log
	// without advancing before readiness reports it stalled.
	ProjectorStall time.Duration
	// FileOrphanAfter is how long an upload no message carries is kept.
	FileOrphanAfter time.Duration
	// Pprof serves Go's profiler under /debug/pprof/ on the HTTP address.
	Pprof bool
	// MetricsAddr serves /metrics on an address of its own (e.g. one only
	// the monitoring network reaches); empty serves it on HTTPAddr.
	MetricsAddr string
	// ClientQueue is how many messages the embedded broker queues per client;
	// SlowClientTimeout how long fan-out waits for a full queue to drain
	// before disconnecting that client.
	ClientQueue       int
	SlowClientTimeout time.Duration
	// ReadBuffer is the size of the embedded broker's read buffer for each
	// client, in bytes.
	ReadBuffer int
	// AuthFailuresPerMinute bounds failed MQTT and REST authentications per
	// client address (a token bucket of that size); 0 turns the limit off.
	AuthFailuresPerMinute int
	// SessionQueue is how many deliveries the embedded broker keeps for a
	// persistent session while its client is away; past it the session ends.
	SessionQueue int
	// WSOrigins are the browser origins the embedded broker's WebSocket
	// listener accepts ("*" any); requests without an Origin are accepted.
	WSOrigins []string
	// Webhooks configure how webhook deliveries are made.
	Webhooks WebhookSettings
	// MemoryLimit is the heap chatd's collector keeps under, in bytes (0:
	// none); with one it collects rarely (TuneCollector).
	MemoryLimit int64
}

// WebhookSettings bound webhook deliveries: each is tried Attempts times,
// waiting RetryFirst after the first failure and twice as long after each
// next one, each attempt bounded by Timeout; then it is parked.
type WebhookSettings struct {
	Attempts   int
	RetryFirst time.Duration
	Timeout    time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses (off: an application admin could otherwise make chatd
	// probe the network it runs in).
	AllowPrivate bool
}

// HasRole reports whether this process runs role r.
func (c *Config) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// AuthFailureRate is the bucket of failed authentications per client address.
func (c *Config) AuthFailureRate() ratelimit.Rate {
	return ratelimit.Rate{PerSecond: float64(c.AuthFailuresPerMinute) / 60, Burst: c.AuthFailuresPerMinute}
}

// EmbeddedBroker reports whether chatd runs its own MQTT broker.
func (c *Config) EmbeddedBroker() bool { return c.MQTTURL == "" }

// EmbeddedNATS reports whether chatd runs its own NATS server.
func (c *Config) EmbeddedNATS() bool { return c.NATSURL == "" }

// Per-connection sizes of the embedded broker, paid by every connected
// client, idle or not: a write queue slot costs 8 bytes.
const (
	// DefaultClientQueue lets fan-out hand a client 96 messages it has not
	// acknowledged yet before it waits for the client; a client that keeps
	// up holds a few at a time.
	DefaultClientQueue = 128
	// DefaultReadBuffer holds a few chat commands, or a few hundred PUBACKs.
	DefaultReadBuffer = 1024
)

// DefaultDatabaseURL is where `task dev` sets up the local database.
const DefaultDatabaseURL = "postgres://chat:chat@127.0.0.1:5432/chat?sslmode=disable"

// Load parses args (without the program name) and the environment.
func Load(name string, args []string, getenv func(string) string) (*Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	c := &Config{}
	var badDuration, badWhy string // an environment value that did not parse, and why
	envDuration := func(key string, def time.Duration) time.Duration {
		d, err := time.ParseDuration(env(key, def.String()))
		if err != nil {
			badDuration, badWhy = key, "not a duration"
			return def
		}
		return d
	}
	var roles, secret, origins, memoryLimit string
	var err error
	envInt := func(key string, def int) int {
		n, err := strconv.Atoi(env(key, strconv.Itoa(def)))
		if err != nil {
			badDuration, badWhy = key, "not an integer"
			return def
		}
		return n
	}
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.StringVar(&c.HTTPAddr, "http-addr", env("CHAT_HTTP_ADDR", ":8080"), "REST API, health and metrics address (CHAT_HTTP_ADDR)")
	fl.StringVar(&c.MetricsAddr, "metrics-addr", env("CHAT_METRICS_ADDR", ""), "serve /metrics here instead of on the HTTP address (CHAT_METRICS_ADDR)")
	fl.StringVar(&c.MQTTAddr, "mqtt-addr", env("CHAT_MQTT_ADDR", ":1883"), "embedded broker, MQTT over TCP (CHAT_MQTT_ADDR)")
	fl.StringVar(&c.MQTTWSAddr, "mqtt-ws-addr", env("CHAT_MQTT_WS_ADDR", ":8083"), "embedded broker, MQTT over WebSocket at /mqtt; off disables (CHAT_MQTT_WS_ADDR)")
	fl.StringVar(&c.MQTTURL, "mqtt-url", env("CHAT_MQTT_URL", ""), "external broker URL, e.g. tcp://mosquitto:1883; empty runs the embedded broker (CHAT_MQTT_URL)")
	fl.StringVar(&c.MQTTUser, "mqtt-username", env("CHAT_MQTT_USERNAME", "chat-bridge"), "account of the bridge and fan-out on the broker (CHAT_MQTT_USERNAME)")
	fl.StringVar(&c.MQTTPass, "mqtt-password", env("CHAT_MQTT_PASSWORD", ""), "password on an external broker; the embedded broker gets a service token (CHAT_MQTT_PASSWORD)")
	fl.StringVar(&c.NATSURL, "nats-url", env("CHAT_NATS_URL", ""), "external NATS URL; empty runs an embedded server (CHAT_NATS_URL)")
	fl.StringVar(&c.NATSAddr, "nats-addr", env("CHAT_NATS_ADDR", "127.0.0.1:4222"), "where the embedded NATS server listens (CHAT_NATS_ADDR)")
	fl.IntVar(&c.NATSReplicas, "nats-replicas", envInt("CHAT_NATS_REPLICAS", 1), "replicas of the streams: 3 on a NATS cluster (CHAT_NATS_REPLICAS)")
	fl.StringVar(&c.DataDir, "data-dir", env("CHAT_DATA_DIR", "./.data"), "JetStream storage, files, generated dev key (CHAT_DATA_DIR)")
	fl.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", DefaultDatabaseURL), "PostgreSQL connection string (DATABASE_URL)")
	fl.StringVar(&c.DBSchema, "db-schema", env("CHAT_DB_SCHEMA", "chat"), "PostgreSQL schema of the live read model (CHAT_DB_SCHEMA)")
	fl.StringVar(&secret, "jwt-secret", env("CHAT_JWT_SECRET", ""), "HS256 key; empty reads or generates <data-dir>/jwt.secret (CHAT_JWT_SECRET)")
	fl.StringVar(&c.ConfigFile, "config", env("CHAT_CONFIG", ""), "YAML file with per-application settings (CHAT_CONFIG)")
	fl.DurationVar(&c.DedupWindow, "dedup-window", envDuration("CHAT_DEDUP_WINDOW", jet.DefaultDuplicateWindow), "how long the log deduplicates event ids (CHAT_DEDUP_WINDOW)")
	fl.DurationVar(&c.WriteWait, "write-wait", envDuration("CHAT_WRITE_WAIT", 5*time.Second), "longest wait of a REST write for the read model before 202 (CHAT_WRITE_WAIT)")
	fl.DurationVar(&c.ProjectorStall, "projector-stall", envDuration("CHAT_PROJECTOR_STALL", 30*time.Second), "how long the projector may stay behind the log without advancing before /readyz fails (CHAT_PROJECTOR_STALL)")
	fl.IntVar(&c.ClientQueue, "mqtt-client-queue", envInt("CHAT_MQTT_CLIENT_QUEUE", DefaultClientQueue), "embedded broker: messages queued per client; fan-out waits for a client with three quarters of them unacknowledged (CHAT_MQTT_CLIENT_QUEUE)")
	fl.IntVar(&c.ReadBuffer, "mqtt-read-buffer", envInt("CHAT_MQTT_READ_BUFFER", DefaultReadBuffer), "embedded broker: bytes of each client's read buffer (CHAT_MQTT_READ_BUFFER)")
	fl.DurationVar(&c.SlowClientTimeout, "mqtt-slow-client-timeout", envDuration("CHAT_MQTT_SLOW_CLIENT_TIMEOUT", 10*time.Second), "embedded broker: how long fan-out waits for a full client queue before disconnecting the client (CHAT_MQTT_SLOW_CLIENT_TIMEOUT)")
	fl.IntVar(&c.AuthFailuresPerMinute, "auth-failures-per-minute", envInt("CHAT_AUTH_FAILURES_PER_MINUTE", 30), "failed MQTT and REST authentications allowed per client address and minute; 0 = no limit (CHAT_AUTH_FAILURES_PER_MINUTE)")
	fl.IntVar(&c.SessionQueue, "mqtt-session-queue", envInt("CHAT_MQTT_SESSION_QUEUE", 1000), "embedded broker: deliveries kept for an offline persistent session before the session is ended (CHAT_MQTT_SESSION_QUEUE)")
	fl.StringVar(&origins, "mqtt-ws-origins", env("CHAT_MQTT_WS_ORIGINS", ""), "embedded broker: comma-separated browser origins allowed on the WebSocket listener, e.g. https://app.example.com, or * (CHAT_MQTT_WS_ORIGINS)")
	fl.DurationVar(&c.FileOrphanAfter, "file-orphan-after", envDuration("CHAT_FILE_ORPHAN_AFTER", 24*time.Hour), "how long an uploaded file no message carries is kept before it is removed (CHAT_FILE_ORPHAN_AFTER)")
	fl.BoolVar(&c.Pprof, "pprof", getenv("CHAT_PPROF") == "1", "serve /debug/pprof/ on the HTTP address; keep it off in production (CHAT_PPROF=1)")
	fl.IntVar(&c.Webhooks.Attempts, "webhook-attempts", envInt("CHAT_WEBHOOK_ATTEMPTS", 8), "tries of one webhook delivery before it is parked (CHAT_WEBHOOK_ATTEMPTS)")
	fl.DurationVar(&c.Webhooks.RetryFirst, "webhook-retry", envDuration("CHAT_WEBHOOK_RETRY", time.Second), "wait after a webhook delivery's first failure, doubled after each next one (CHAT_WEBHOOK_RETRY)")
	fl.DurationVar(&c.Webhooks.Timeout, "webhook-timeout", envDuration("CHAT_WEBHOOK_TIMEOUT", 10*time.Second), "bound of one webhook request (CHAT_WEBHOOK_TIMEOUT)")
	fl.BoolVar(&c.Webhooks.AllowPrivate, "webhook-allow-private", getenv("CHAT_WEBHOOK_ALLOW_PRIVATE") == "1", "let webhooks reach loopback, private and link-local addresses (CHAT_WEBHOOK_ALLOW_PRIVATE=1)")
	fl.StringVar(&memoryLimit, "memory-limit", env("CHAT_MEMORY_LIMIT", "auto"), "heap the garbage collector keeps under: auto (a quarter of the machine's or container's memory), off, or a size such as 2GiB; with a limit it collects rarely (CHAT_MEMORY_LIMIT)")
	fl.StringVar(&roles, "roles", env("CHAT_ROLES", "all"), "comma-separated roles: "+strings.Join(AllRoles, ",")+" or all (CHAT_ROLES)")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if badDuration != "" {
		overridden := false
		fl.Visit(func(f *flag.Flag) {
			overridden = overridden || "CHAT_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) == badDuration
		})
		if !overridden {
			return nil, fmt.Errorf("%s: %s", badDuration, badWhy)
		}
	}
	if c.DedupWindow <= 0 || c.WriteWait <= 0 || c.ProjectorStall <= 0 || c.FileOrphanAfter <= 0 {
		return nil, errors.New("dedup-window, write-wait, projector-stall and file-orphan-after must be positive")
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	if c.MQTTWSAddr == "off" {
		c.MQTTWSAddr = ""
	}
	if c.ClientQueue < 16 || c.ClientQueue > 65535 {
		return nil, errors.New("mqtt-client-queue: between 16 and 65535")
	}
	if c.ReadBuffer < 128 || c.ReadBuffer > 1<<20 {
		return nil, errors.New("mqtt-read-buffer: between 128 and 1048576")
	}
	if c.SessionQueue < 1 || c.SessionQueue > 60000 {
		return nil, errors.New("mqtt-session-queue: between 1 and 60000")
	}
	if c.WSOrigins, err = parseOrigins(origins); err != nil {
		return nil, err
	}
	if c.SlowClientTimeout <= 0 {
		return nil, errors.New("mqtt-slow-client-timeout must be positive")
	}
	if c.AuthFailuresPerMinute < 0 {
		return nil, errors.New("auth-failures-per-minute: 0 or more")
	}
	if c.Webhooks.Attempts < 1 || c.Webhooks.Attempts > 100 {
		return nil, errors.New("webhook-attempts: between 1 and 100")
	}
	if c.Webhooks.RetryFirst <= 0 || c.Webhooks.Timeout <= 0 {
		return nil, errors.New("webhook-retry and webhook-timeout must be positive")
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		return nil, errors.New("nats-replicas: between 1 and 5")
	}
	if c.MemoryLimit, err = ParseMemoryLimit(memoryLimit, nil); err != nil {
		return nil, err
	}
	if c.Roles, err = parseRoles(roles); err != nil {
		return nil, err
	}
	if !validSchema(c.DBSchema) {
		return nil, fmt.Errorf("db-schema %q: use lower-case letters, digits and _", c.DBSchema)
	}
	if c.Apps, err = LoadApps(c.ConfigFile); err != nil {
		return nil, err
	}
	if secret != "" {
		c.JWTSecret = []byte(secret)
	} else if c.JWTSecret, err = dataSecret(c.DataDir, "jwt.secret"); err != nil {
		return nil, err
	}
	if len(c.JWTSecret) < 32 {
		return nil, errors.New("jwt-secret: use at least 32 bytes")
	}
	return c, nil
}

// parseOrigins reads a comma-separated list of origins: "*", or
// scheme://host[:port] exactly as browsers send them.
func parseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
				return nil, fmt.Errorf("mqtt-ws-origins: %q is not an origin like https://app.example.com", o)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func parseRoles(s string) ([]string, error) {
	if s == "" || s == "all" {
		return slices.Clone(AllRoles), nil
	}
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("roles: unknown role %q (known: %s)", r, strings.Join(AllRoles, ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func validSchema(s string) bool {
	if s == "" || len(s) > 48 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// NATSSecret reads <data dir>/nats.secret, creating it on first use: the
// password of chatd's own account on its embedded NATS server (user
// natsauth.ChatdUser), and the key service passwords are derived from. It is
// read only when needed, so a chatd on an external NATS never creates it.
func (c *Config) NATSSecret() (string, error) {
	b, err := dataSecret(c.DataDir, "nats.secret")
	return string(b), err
}

// dataSecret reads a key generated into the data directory, creating it on
// first use so chatd and chatctl agree without any setup. The key is written
// to a temporary file and linked into place, so a concurrent reader sees no
// file or the whole key, and concurrent creators agree on the first one.
func dataSecret(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if key == "" {
			return nil, fmt.Errorf("%s is empty: delete it to generate a new key", path)
		}
		return []byte(key), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	key := hex.EncodeToString(raw[:])
	tmp, err := os.CreateTemp(dir, name+".*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(key + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) { // another process won the race
		return dataSecret(dir, name)
	} else if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return []byte(key), nil
}
