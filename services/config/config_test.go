package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbackend/chat/services/config"
)

const secret32 = "0123456789abcdef0123456789abcdef"

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func load(t *testing.T, args []string, env map[string]string) *config.Config {
	t.Helper()
	c, err := config.Load("chatd", args, envOf(env))
	if err != nil {
		t.Fatalf("Load(%v, %v): %v", args, env, err)
	}
	return c
}

func TestLoadDefaultsFollowTheProtocol(t *testing.T) {
	c := load(t, nil, map[string]string{"CHAT_JWT_SECRET": secret32})
	for _, tc := range []struct{ name, got, want string }{
		{"CHAT_HTTP_ADDR", c.HTTPAddr, ":8080"},
		{"CHAT_METRICS_ADDR", c.MetricsAddr, ""},
		{"CHAT_MQTT_ADDR", c.MQTTAddr, ":1883"},
		{"CHAT_MQTT_WS_ADDR", c.MQTTWSAddr, ":8083"},
		{"CHAT_MQTT_URL", c.MQTTURL, ""},
		{"CHAT_NATS_URL", c.NATSURL, ""},
		{"CHAT_NATS_ADDR", c.NATSAddr, "127.0.0.1:4222"},
		{"CHAT_DATA_DIR", c.DataDir, "./.data"},
		{"DATABASE_URL", c.DatabaseURL, config.DefaultDatabaseURL},
		{"CHAT_CONFIG", c.ConfigFile, ""},
		{"CHAT_DB_SCHEMA", c.DBSchema, "chat"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s default = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !c.EmbeddedBroker() || !c.EmbeddedNATS() {
		t.Error("defaults do not run the embedded broker and NATS")
	}
	if !slices.Equal(c.Roles, config.AllRoles) {
		t.Errorf("default roles = %v, want every role %v", c.Roles, config.AllRoles)
	}
	for _, r := range config.AllRoles {
		if !c.HasRole(r) {
			t.Errorf("default process lacks role %s", r)
		}
	}
	if c.DedupWindow != 30*time.Second || c.WriteWait != 5*time.Second {
		t.Errorf("dedup window %v, write wait %v", c.DedupWindow, c.WriteWait)
	}
	if c.ProjectorStall != 30*time.Second {
		t.Errorf("projector stall %v, want 30s", c.ProjectorStall)
	}
	if c.Apps["geosector"] == nil || c.Apps["resalice"] == nil || len(c.Apps) != 2 {
		t.Errorf("default apps = %v, want geosector and resalice", c.Apps)
	}
	if string(c.JWTSecret) != secret32 {
		t.Errorf("secret = %q", c.JWTSecret)
	}
}

func TestLoadReadsEnvironment(t *testing.T) {
	dir := t.TempDir()
	c := load(t, nil, map[string]string{
		"CHAT_HTTP_ADDR":     ":9090",
		"CHAT_METRICS_ADDR":  "127.0.0.1:9100",
		"CHAT_MQTT_ADDR":     ":1999",
		"CHAT_MQTT_WS_ADDR":  ":8999",
		"CHAT_MQTT_URL":      "tcp://mosquitto:1883",
		"CHAT_NATS_URL":      "nats://n:4222",
		"CHAT_NATS_ADDR":     "127.0.0.1:5222",
		"CHAT_DATA_DIR":      dir,
		"DATABASE_URL":       "postgres://x@y/z",
		"CHAT_DB_SCHEMA":     "chat_2",
		"CHAT_JWT_SECRET":    secret32 + "env",
		"CHAT_DEDUP_WINDOW":  "10m",
		"CHAT_WRITE_WAIT":    "250ms",
		"CHAT_ROLES":         "api,projector",
		"CHAT_MQTT_USERNAME": "svc",
		"CHAT_MQTT_PASSWORD": "pw",
	})
	for _, tc := range []struct{ name, got, want string }{
		{"HTTPAddr", c.HTTPAddr, ":9090"},
		{"MetricsAddr", c.MetricsAddr, "127.0.0.1:9100"},
		{"MQTTAddr", c.MQTTAddr, ":1999"},
		{"MQTTWSAddr", c.MQTTWSAddr, ":8999"},
		{"MQTTURL", c.MQTTURL, "tcp://mosquitto:1883"},
		{"NATSURL", c.NATSURL, "nats://n:4222"},
		{"NATSAddr", c.NATSAddr, "127.0.0.1:5222"},
		{"DataDir", c.DataDir, dir},
		{"DatabaseURL", c.DatabaseURL, "postgres://x@y/z"},
		{"DBSchema", c.DBSchema, "chat_2"},
		{"JWTSecret", string(c.JWTSecret), secret32 + "env"},
		{"MQTTUser", c.MQTTUser, "svc"},
		{"MQTTPass", c.MQTTPass, "pw"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.EmbeddedBroker() || c.EmbeddedNATS() {
		t.Error("external URLs still select embedded servers")
	}
	if c.DedupWindow != 10*time.Minute || c.WriteWait != 250*time.Millisecond {
		t.Errorf("dedup window %v, write wait %v", c.DedupWindow, c.WriteWait)
	}
	if !slices.Equal(c.Roles, []string{"api", "projector"}) || c.HasRole("broker") {
		t.Errorf("roles = %v", c.Roles)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt.secret")); !os.IsNotExist(err) {
		t.Errorf("a configured secret still generated a key file (stat: %v)", err)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	env := map[string]string{
		"CHAT_HTTP_ADDR":    ":1",
		"CHAT_METRICS_ADDR": ":3",
		"CHAT_NATS_URL":     "nats://env:4222",
		"CHAT_DB_SCHEMA":    "envschema",
		"CHAT_JWT_SECRET":   secret32 + "env",
		"CHAT_DEDUP_WINDOW": "1m",
		"CHAT_WRITE_WAIT":   "1s",
		"CHAT_ROLES":        "api",
	}
	c := load(t, []string{
		"--http-addr=:2", "--metrics-addr=:4", "--nats-url", "nats://flag:4222", "-db-schema=flagschema",
		"--jwt-secret=" + secret32 + "flag", "--dedup-window=3m", "--write-wait=2s", "--roles=broker,bridge",
	}, env)
	if c.HTTPAddr != ":2" || c.MetricsAddr != ":4" || c.NATSURL != "nats://flag:4222" || c.DBSchema != "flagschema" || string(c.JWTSecret) != secret32+"flag" {
		t.Errorf("flags lost to environment: %+v", c)
	}
	if c.DedupWindow != 3*time.Minute || c.WriteWait != 2*time.Second {
		t.Errorf("durations: %v, %v", c.DedupWindow, c.WriteWait)
	}
	if !slices.Equal(c.Roles, []string{"broker", "bridge"}) {
		t.Errorf("roles = %v", c.Roles)
	}
}

func TestEmptyFlagSelectsEmbeddedServerDespiteEnvironment(t *testing.T) {
	c := load(t, []string{"--nats-url=", "--mqtt-url="}, map[string]string{
		"CHAT_JWT_SECRET": secret32, "CHAT_NATS_URL": "nats://env:4222", "CHAT_MQTT_URL": "tcp://env:1883"})
	if !c.EmbeddedNATS() || !c.EmbeddedBroker() {
		t.Fatalf("empty flags did not override: nats %q, mqtt %q", c.NATSURL, c.MQTTURL)
	}
}

func TestRolesAreTrimmedAndDeduplicated(t *testing.T) {
	for in, want := range map[string][]string{
		"all":                         config.AllRoles,
		"api, fanout":                 {"api", "fanout"},
		"moderation,moderation,api":   {"moderation", "api"},
		" broker ":                    {"broker"},
		"projector,api,bridge,fanout": {"projector", "api", "bridge", "fanout"},
	} {
		c := load(t, []string{"--roles=" + in}, map[string]string{"CHAT_JWT_SECRET": secret32})
		if !slices.Equal(c.Roles, want) {
			t.Errorf("--roles=%q gives %v, want %v", in, c.Roles, want)
		}
	}
}

func TestLoadRefusesBadSettings(t *testing.T) {
	base := map[string]string{"CHAT_JWT_SECRET": secret32}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			if _, set := m[bk]; !set {
				m[bk] = bv
			}
		}
		return m
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown role flag", []string{"--roles=api,chef"}, base, `unknown role "chef"`},
		{"unknown role env", nil, with("CHAT_ROLES", "everything"), `unknown role "everything"`},
		{"empty role in list", []string{"--roles=api,"}, base, `unknown role ""`},
		{"bad dedup window env", nil, with("CHAT_DEDUP_WINDOW", "two minutes"), "CHAT_DEDUP_WINDOW: not a duration"},
		{"bad write wait env", nil, with("CHAT_WRITE_WAIT", "5"), "CHAT_WRITE_WAIT: not a duration"},
		{"bad duration flag", []string{"--write-wait=soon"}, base, "write-wait"},
		{"zero dedup window", []string{"--dedup-window=0s"}, base, "must be positive"},
		{"negative write wait", nil, with("CHAT_WRITE_WAIT", "-1s"), "must be positive"},
		{"zero projector stall", []string{"--projector-stall=0s"}, base, "must be positive"},
		{"zero file orphan time", []string{"--file-orphan-after=0s"}, base, "must be positive"},
		{"bad file orphan time env", nil, with("CHAT_FILE_ORPHAN_AFTER", "a day"), "CHAT_FILE_ORPHAN_AFTER: not a duration"},
		{"tiny read buffer", nil, with("CHAT_MQTT_READ_BUFFER", "16"), "mqtt-read-buffer"},
		{"tiny client queue", []string{"--mqtt-client-queue=8"}, base, "mqtt-client-queue"},
		{"schema upper case", []string{"--db-schema=Chat"}, base, "db-schema"},
		{"schema with dash", nil, with("CHAT_DB_SCHEMA", "chat-x"), "db-schema"},
		{"schema with quote", []string{`--db-schema=chat";drop`}, base, "db-schema"},
		{"schema starting with digit", []string{"--db-schema=1chat"}, base, "db-schema"},
		{"empty schema", []string{"--db-schema="}, base, "db-schema"},
		{"schema too long", []string{"--db-schema=" + strings.Repeat("s", 49)}, base, "db-schema"},
		{"short secret flag", []string{"--jwt-secret=short"}, base, "at least 32 bytes"},
		{"short secret env", nil, with("CHAT_JWT_SECRET", secret32[:31]), "at least 32 bytes"},
		{"unknown flag", []string{"--colour=blue"}, base, "colour"},
		{"stray argument", []string{"serve"}, base, `unexpected argument "serve"`},
		{"session queue zero", []string{"--mqtt-session-queue=0"}, base, "mqtt-session-queue"},
		{"session queue too large", nil, with("CHAT_MQTT_SESSION_QUEUE", "65535"), "mqtt-session-queue"},
		{"origin with a path", nil, with("CHAT_MQTT_WS_ORIGINS", "https://app.example.com/chat"), "mqtt-ws-origins"},
		{"origin without scheme", []string{"--mqtt-ws-origins=app.example.com"}, base, "mqtt-ws-origins"},
		{"missing config file", []string{"--config=" + filepath.Join(t.TempDir(), "none.yaml")}, base, "read config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load("chatd", tc.args, envOf(tc.env))
			if err == nil {
				t.Fatalf("Load accepted: %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestLoadAcceptsSchemaAtTheLimits(t *testing.T) {
	for _, s := range []string{"a", "_", "chat_replay_2", strings.Repeat("s", 48)} {
		if c := load(t, []string{"--db-schema=" + s}, map[string]string{"CHAT_JWT_SECRET": secret32}); c.DBSchema != s {
			t.Errorf("schema %q read as %q", s, c.DBSchema)
		}
	}
}

func TestGeneratedSecretIsCreatedOnceWithOwnerOnlyMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	first := load(t, []string{"--data-dir=" + dir}, nil)
	path := filepath.Join(dir, "jwt.secret")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no generated key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	if len(first.JWTSecret) < 32 {
		t.Errorf("generated secret has %d bytes", len(first.JWTSecret))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != string(first.JWTSecret) {
		t.Errorf("file holds %q, config uses %q", b, first.JWTSecret)
	}

	second := load(t, nil, map[string]string{"CHAT_DATA_DIR": dir})
	if string(second.JWTSecret) != string(first.JWTSecret) {
		t.Errorf("second load generated a new secret: %q then %q", first.JWTSecret, second.JWTSecret)
	}
	after, err := os.ReadFile(path)
	if err != nil || string(after) != string(b) {
		t.Errorf("key file rewritten: %q -> %q (%v)", b, after, err)
	}
}

func TestGeneratedSecretsDifferBetweenDataDirs(t *testing.T) {
	a := load(t, []string{"--data-dir=" + t.TempDir()}, nil)
	b := load(t, []string{"--data-dir=" + t.TempDir()}, nil)
	if string(a.JWTSecret) == string(b.JWTSecret) {
		t.Fatal("two data dirs generated the same secret")
	}
}

func TestExistingSecretFileIsReusedTrimmed(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwt.secret"), []byte("  "+secret32+"xyz\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := load(t, []string{"--data-dir=" + dir}, nil)
	if string(c.JWTSecret) != secret32+"xyz" {
		t.Fatalf("secret = %q, want the file's, trimmed", c.JWTSecret)
	}
}

func TestShortSecretFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwt.secret"), []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load("chatd", []string{"--data-dir=" + dir}, envOf(nil)); err == nil {
		t.Fatalf("Load accepted an 8-byte secret: %q", c.JWTSecret)
	}
}

func TestConfiguredSecretWinsOverKeyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwt.secret"), []byte(secret32+"file"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := load(t, []string{"--data-dir=" + dir}, map[string]string{"CHAT_JWT_SECRET": secret32 + "env"})
	if string(c.JWTSecret) != secret32+"env" {
		t.Fatalf("secret = %q, want the configured one", c.JWTSecret)
	}
}

func TestLoadReadsTheApplicationsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.yaml")
	if err := os.WriteFile(path, []byte("applications:\n  acme:\n    anonymousChat: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := load(t, nil, map[string]string{"CHAT_JWT_SECRET": secret32, "CHAT_CONFIG": path})
	if len(c.Apps) != 1 || c.Apps["acme"] == nil || !c.Apps["acme"].AnonymousChat {
		t.Fatalf("apps = %v, want only acme from the file", c.Apps)
	}
}

func TestFlagOverridesUnparsableDurationEnvironment(t *testing.T) {
	env := map[string]string{"CHAT_DEDUP_WINDOW": "soon", "CHAT_JWT_SECRET": strings.Repeat("k", 40)}
	cfg, err := config.Load("chatd", []string{"--dedup-window=3m"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("flag given, yet the environment's bad value refused: %v", err)
	}
	if cfg.DedupWindow != 3*time.Minute {
		t.Fatalf("dedup window %v", cfg.DedupWindow)
	}
	if _, err := config.Load("chatd", nil, func(k string) string { return env[k] }); err == nil {
		t.Fatal("a bad CHAT_DEDUP_WINDOW without a flag was accepted")
	}
}

func TestBrokerSizesDefaultSmallAndAreSettable(t *testing.T) {
	c := load(t, nil, map[string]string{"CHAT_JWT_SECRET": secret32})
	if c.ClientQueue != config.DefaultClientQueue || c.ReadBuffer != config.DefaultReadBuffer {
		t.Fatalf("defaults: client queue %d, read buffer %d", c.ClientQueue, c.ReadBuffer)
	}
	c = load(t, []string{"--mqtt-read-buffer=4096"}, map[string]string{"CHAT_JWT_SECRET": secret32, "CHAT_MQTT_CLIENT_QUEUE": "512"})
	if c.ClientQueue != 512 || c.ReadBuffer != 4096 {
		t.Fatalf("set: client queue %d, read buffer %d", c.ClientQueue, c.ReadBuffer)
	}
}

func TestWebSocketOriginsAreAListAndEmptyByDefault(t *testing.T) {
	if c := load(t, nil, map[string]string{"CHAT_JWT_SECRET": secret32}); len(c.WSOrigins) != 0 || c.SessionQueue != 1000 {
		t.Fatalf("defaults: origins %v, session queue %d", c.WSOrigins, c.SessionQueue)
	}
	c := load(t, nil, map[string]string{"CHAT_JWT_SECRET": secret32,
		"CHAT_MQTT_WS_ORIGINS": " https://app.example.com, http://localhost:5173 ,"})
	if want := []string{"https://app.example.com", "http://localhost:5173"}; !slices.Equal(c.WSOrigins, want) {
		t.Fatalf("origins %q, want %q", c.WSOrigins, want)
	}
}
